"""Response classification: every kind of answer maps to the one right exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from seamline.adapters.centra.errors import classify, parse_retry_after
from seamline.exceptions import (
    AmbiguousWrite,
    AuthFailed,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)

NOW = 1_800_000_000.0


def resp(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {})


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_failures(status: int) -> None:
    """Refused credentials raise AuthFailed on reads and writes alike."""
    for mutation in (False, True):
        with pytest.raises(AuthFailed):
            classify(resp(status, {"errors": [{"message": "no"}]}), mutation=mutation)


def test_429_is_rate_limited_with_its_delay() -> None:
    """A 429 carries the Retry-After delay in seconds."""
    with pytest.raises(RateLimited) as err:
        classify(resp(429, headers={"Retry-After": "3"}), mutation=False, now=NOW)
    assert err.value.retry_after == 3.0


def test_retry_after_as_a_unix_timestamp_becomes_a_delay() -> None:
    """A large integer is read as a Unix epoch, not as seconds to wait."""
    assert parse_retry_after(str(int(NOW) + 7), now=NOW) == 7.0


def test_retry_after_as_an_http_date_becomes_a_delay() -> None:
    """An HTTP-date is read too."""
    when = datetime.fromtimestamp(NOW + 12, tz=UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=NOW) == 12.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    """Garbage in Retry-After means no delay was given."""
    assert parse_retry_after(value, now=NOW) is None


def test_a_past_retry_after_never_gives_a_negative_delay() -> None:
    """A timestamp in the past means retry now."""
    assert parse_retry_after(str(int(NOW) - 50), now=NOW) == 0.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_query_is_transient(status: int) -> None:
    """A read that failed on the server may simply be retried."""
    with pytest.raises(TransientError):
        classify(resp(status), mutation=False)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_mutation_is_ambiguous(status: int) -> None:
    """A write that failed on the server may have been applied."""
    with pytest.raises(AmbiguousWrite):
        classify(resp(status), mutation=True)


def _req() -> httpx.Request:
    return httpx.Request("POST", "http://centra.test/graphql")


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("t", request=_req()),
                                 httpx.RemoteProtocolError("dropped", request=_req()),
                                 httpx.ReadError("reset", request=_req())])
def test_timeouts_and_drops_after_sending_a_mutation_are_ambiguous(exc: httpx.HTTPError) -> None:
    """A write whose answer never came may have been applied."""
    with pytest.raises(AmbiguousWrite) as err:
        classify(exc, mutation=True)
    assert err.value.__cause__ is exc


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("t", request=_req()),
                                 httpx.ConnectError("refused", request=_req()),
                                 httpx.RemoteProtocolError("dropped", request=_req())])
def test_transport_errors_on_a_query_are_transient(exc: httpx.HTTPError) -> None:
    """A read that never got an answer is retriable."""
    with pytest.raises(TransientError):
        classify(exc, mutation=False)


def test_a_refused_connection_on_a_mutation_is_transient_because_nothing_was_sent() -> None:
    """A connection that was never made cannot have applied a write."""
    with pytest.raises(TransientError) as err:
        classify(httpx.ConnectError("refused", request=_req()), mutation=True)
    assert not isinstance(err.value, AmbiguousWrite)


def test_graphql_authorization_errors_are_auth_failures() -> None:
    """A missing permission is a GraphQL error with the authorization category."""
    body = {"errors": [{"message": "You need Order:read permission to access orderConnection.",
                        "extensions": {"category": "authorization"}}], "data": None}
    with pytest.raises(AuthFailed, match="Order:read"):
        classify(resp(200, body), mutation=False)


def test_other_graphql_errors_are_permanent_with_the_message() -> None:
    """A validation error cannot succeed later."""
    body = {"errors": [{"message": "Cannot query field 'x' on type 'Order'."}]}
    with pytest.raises(PermanentError, match="Cannot query field") as err:
        classify(resp(200, body), mutation=False)
    assert not isinstance(err.value, AuthFailed)


def test_user_errors_are_rejections_with_the_messages_as_codes() -> None:
    """userErrors in a mutation payload raise Rejected carrying each message."""
    body = {"data": {"confirmOrder": {"order": None, "userErrors": [
        {"message": "Order is not pending", "path": ["order"]}], "userWarnings": []}}}
    with pytest.raises(Rejected) as err:
        classify(resp(200, body), mutation=True, operation="confirm_order")
    assert err.value.codes[0]["code"] == "Order is not pending"
    assert err.value.codes[0]["path"] == ["order"]


def test_a_good_answer_returns_data_with_floats_as_decimal() -> None:
    """Money floats arrive as exact Decimals, never binary floats."""
    raw = b'{"data": {"x": {"value": 0.1}}, "extensions": {"complexity": 3}}'
    out = classify(httpx.Response(200, content=raw), mutation=False)
    assert out["data"]["x"]["value"] == Decimal("0.1")
    assert isinstance(out["data"]["x"]["value"], Decimal)
    assert out["extensions"]["complexity"] == 3


def test_a_non_json_200_on_a_mutation_is_ambiguous() -> None:
    """An unreadable success answer might still mean the write was applied."""
    with pytest.raises(AmbiguousWrite):
        classify(httpx.Response(200, content=b"<html>"), mutation=True)


def test_a_non_json_400_is_permanent() -> None:
    """A client error without a GraphQL body cannot be retried into success."""
    with pytest.raises(PermanentError):
        classify(httpx.Response(400, content=b"bad"), mutation=False)
