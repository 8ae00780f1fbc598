"""Units of the Centra sandbox: webhook signature, fault plan, token buckets, money on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    OperationDefinitionNode,
    parse,
)

from seamline_sandbox.centra.app import complexity
from seamline_sandbox.centra.ratelimit import RateLimiter
from seamline_sandbox.centra.resolvers import build_schema, php_date, to_float
from seamline_sandbox.centra.webhooks import encode_body, sign
from seamline_sandbox.faults import FaultKind, FaultPlan


def test_webhook_signature_reproduces_centras_documented_test_vector() -> None:
    """secret test123, t=12345678 and the documented body give the documented v1."""
    body = "payload=%7B%22x%22%3A%22test%22%7D"
    assert sign("test123", 12345678, body) == (
        "0b9cd84f5d583e5e1aadfb9f160aa8080b51d5b85ff85808d6b75bdac356c549")


def test_webhook_body_is_one_url_encoded_payload_field() -> None:
    """The form body is payload=<url-encoded JSON with an events list>."""
    body = encode_body([{"type": "order", "action": "insert", "id": 7}])
    assert body.startswith("payload=%7B%22events%22")


def test_queued_faults_hit_only_matching_operations_and_run_out() -> None:
    """Two queued 500s for mutations skip queries and are used up after two mutations."""
    plan = FaultPlan()
    plan.add("500", 2, match="mutation:*")
    assert plan.next_for("query:orders") is None
    first = plan.next_for("mutation:setStock")
    assert first is not None
    assert first.status == 500
    assert plan.next_for("mutation:createShipment") is not None
    assert plan.next_for("mutation:createShipment") is None
    assert plan.fired() == {"500": 2}


def test_a_429_fault_carries_its_retry_after() -> None:
    """The fault keeps the Retry-After it was queued with."""
    plan = FaultPlan()
    plan.add(FaultKind.RATE_LIMITED, retry_after=3)
    fault = plan.next_for("query:orders")
    assert fault is not None
    assert fault.status == 429
    assert fault.retry_after == 3


def test_random_fault_rates_are_seeded_and_close_to_the_rate() -> None:
    """Same seed, same faults; about 20% of 2,000 requests fail."""
    def run() -> list[bool]:
        plan = FaultPlan()
        plan.set_rates({"500": 0.2}, seed=42)
        return [plan.next_for("q") is not None for _ in range(2000)]
    a, b = run(), run()
    assert a == b
    assert 300 < sum(a) < 500


def test_unknown_fault_kinds_and_bad_rates_are_refused() -> None:
    """A typo in a fault kind or rates over 1 are errors, not silent no-ops."""
    plan = FaultPlan()
    with pytest.raises(ValueError):
        plan.add("502")
    with pytest.raises(ValueError):
        plan.set_rates({"500": 0.7, "429": 0.5})


def test_token_buckets_refuse_the_request_over_quota_and_refill_with_time() -> None:
    """With 3 requests per 10 s the 4th waits ~3.3 s; after that long it passes."""
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.configure(sizes={"REQUEST_COUNT:TEN_SECONDS": 3})
    assert all(limiter.take(mutation=False, complexity=1) is None for _ in range(3))
    wait = limiter.take(mutation=False, complexity=1)
    assert wait is not None
    assert 3.0 < wait < 3.5
    now[0] += wait
    assert limiter.take(mutation=False, complexity=1) is None


def test_mutation_bucket_is_separate_from_requests() -> None:
    """Mutations run out at their own quota while queries still pass."""
    limiter = RateLimiter(clock=lambda: 0.0)
    limiter.configure(sizes={"mutations_10s": 2})
    assert limiter.take(mutation=True, complexity=1) is None
    assert limiter.take(mutation=True, complexity=1) is None
    assert limiter.take(mutation=True, complexity=1) is not None
    assert limiter.take(mutation=False, complexity=1) is None


def test_rate_limits_snapshot_lists_six_buckets_with_quota_equal_used_plus_remaining() -> None:
    """rateLimits: six entries, quota = used + remaining."""
    snap = RateLimiter().snapshot()
    assert len(snap) == 6
    assert all(b["quota"] == b["usedQuota"] + b["remainingQuota"] for b in snap)


@pytest.mark.parametrize("text", ["0.01", "123456789.12", "99999999999.99", "1", "0.1"])
def test_money_travels_as_a_float_that_reads_back_exactly(text: str) -> None:
    """Decimal → Float → Decimal round-trips for amounts with up to 15 significant digits."""
    assert Decimal(repr(to_float(Decimal(text)))) == Decimal(text)


def test_money_that_a_float_cannot_hold_exactly_is_refused() -> None:
    """An amount with too many significant digits is never silently rounded."""
    with pytest.raises(ValueError):
        to_float(Decimal("12345678901234567.89"))


def test_datetime_format_argument_follows_php_date_characters() -> None:
    """createdAt(format: ...) uses PHP date() characters; a backslash escapes one."""
    dt = datetime(2026, 11, 2, 8, 5, 9, tzinfo=UTC)
    assert php_date(dt, "Y-m-d\\TH:i:sP") == "2026-11-02T08:05:09+00:00"
    assert php_date(dt, "D, d M y g:i A U") == "Mon, 02 Nov 26 8:05 AM 1793606709"


def test_hiding_an_unknown_field_or_an_interface_field_on_its_implementation_is_refused() -> None:
    """A typo is an error, and an interface field is hidden on the interface (everywhere)."""
    with pytest.raises(ValueError, match="no field"):
        build_schema(["Order.nope"])
    with pytest.raises(ValueError, match="interface Order"):
        build_schema(["DirectToConsumerOrder.lines"])
    schema = build_schema(["Order.lines", "OrderFilter.externalId"])
    for name in ("Order", "DirectToConsumerOrder", "WholesaleOrder"):
        t = schema.get_type(name)
        assert isinstance(t, (GraphQLObjectType, GraphQLInterfaceType))
        assert "lines" not in t.fields
    flt = schema.get_type("OrderFilter")
    assert isinstance(flt, GraphQLInputObjectType)
    assert "externalId" not in flt.fields
    full = build_schema()
    assert "lines" in full.get_type("Order").fields  # type: ignore[union-attr]


def test_complexity_multiplies_a_list_by_its_limit_and_an_unlimited_one_by_twenty() -> None:
    """limit: 1 costs one item (not the default page); no limit costs Centra's default 20."""
    def cost(query: str) -> int:
        doc = parse(query)
        op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
        return complexity(doc, op, {})

    one = cost("{ orders(limit: 1) { number lines(limit: 200) { id } } }")
    unlimited = cost("{ orders { number lines { id } } }")
    assert one == 1 + (1 + 1 + 200 * 1)
    assert unlimited == 1 + 20 * (1 + 1 + 20 * 1)
