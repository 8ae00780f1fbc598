"""One of each: the rules several parts of Seamline share are written once and used by all."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx

from seamline.adapters import http
from seamline.adapters.centra import errors as centra

# The package re-exports the function `classify`, which hides the module of that name.
bluecherry = importlib.import_module("seamline.adapters.bluecherry.classify")
NOW = 1_767_000_000.0


def test_both_adapters_read_retry_after_with_the_one_parser() -> None:
    """Centra's classifier and BlueCherry's use seamline.adapters.http.parse_retry_after."""
    assert centra.parse_retry_after is http.parse_retry_after
    assert bluecherry.parse_retry_after is http.parse_retry_after


def test_retry_after_reads_seconds_an_epoch_and_an_http_date_and_never_goes_negative() -> None:
    """Delta-seconds, a Unix epoch and an HTTP-date (against ``Date`` when given)."""
    when = datetime.fromtimestamp(NOW + 12, tz=UTC)
    served = datetime.fromtimestamp(NOW + 2, tz=UTC)
    assert http.parse_retry_after("7", now=NOW) == 7.0
    assert http.parse_retry_after(str(int(NOW) + 9), now=NOW) == 9.0
    assert http.parse_retry_after(format_datetime(when, usegmt=True), now=NOW) == 12.0
    assert http.parse_retry_after(format_datetime(when, usegmt=True), now=NOW,
                                  date=format_datetime(served, usegmt=True)) == 10.0
    assert http.parse_retry_after("-5", now=NOW) == 0.0
    for junk in (None, "", "soon", "nan", "inf"):
        assert http.parse_retry_after(junk, now=NOW) is None


def test_bluecherry_measures_an_http_date_against_the_servers_date_header() -> None:
    """A 429 whose Retry-After is a date 30 s after the response's Date waits 30 s."""
    served = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    later = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)
    response = httpx.Response(429, headers={"Retry-After": format_datetime(later, usegmt=True),
                                            "Date": format_datetime(served, usegmt=True)})
    assert bluecherry.retry_after_seconds(response) == 30.0


SECRET_LOOKING = ["token", "api_key", "API-Key", "apiKey", "x_api_key", "Authorization",
                  "password", "db_passwd", "client_secret", "webhook_secret", "Cookie",
                  "set-cookie", "signature", "X-Centra-Signature", "credentials",
                  "private_key", "access_token", "refreshToken"]
PLAIN = ["order", "number", "sku", "total", "currency", "customer_po", "external_reference"]


def test_one_secret_key_list_masks_the_same_keys_in_logs_and_in_stored_payloads() -> None:
    """A sample of secret-looking keys is masked by the log redactor and dropped by scrub;
    ordinary keys pass both."""
    from seamline.adapters.store.exceptions import scrub  # noqa: PLC0415
    from seamline.logging import MASK, redact  # noqa: PLC0415

    event = dict.fromkeys(SECRET_LOOKING + PLAIN, "s3cr3t-value")
    logged = redact(None, "info", dict(event))
    stored = scrub(dict(event))
    for key in SECRET_LOOKING:
        assert logged[key] == MASK, key
        assert key not in stored, key
    for key in PLAIN:
        assert logged[key] == "s3cr3t-value", key
        assert stored[key] == "s3cr3t-value", key


def test_one_system_clock_and_one_in_process_retry_budget_serve_both_clients() -> None:
    """Both HTTP clients default to seamline.clock.SystemClock and carry an InlineRetry; the
    queue's RetryPolicy is a different concept with a different name."""
    from seamline.adapters.bluecherry.client import BlueCherryClient  # noqa: PLC0415
    from seamline.adapters.centra.client import CentraClient  # noqa: PLC0415
    from seamline.clock import SystemClock  # noqa: PLC0415
    from seamline.config import BlueCherrySettings, CentraSettings  # noqa: PLC0415
    from seamline.queue import RetryPolicy  # noqa: PLC0415

    centra_client = CentraClient(CentraSettings(token="t"))
    erp_client = BlueCherryClient(BlueCherrySettings(api_key="k"))
    try:
        for client in (centra_client, erp_client):
            assert isinstance(client.clock, SystemClock)
            assert isinstance(client.retry, http.InlineRetry)
            assert client.retry.budget_s < 60
        assert RetryPolicy is not http.InlineRetry
    finally:
        centra_client.close()
        erp_client.close()


def test_bluecherry_acceptance_rules_are_written_once_for_fake_sandbox_and_pricing() -> None:
    """The fake, the HTTP sandbox and pricing all read seamline.domain.bluecherry_rules; the
    header rule reports every coded problem at once with the contract's codes."""
    from decimal import Decimal  # noqa: PLC0415

    from seamline.domain import bluecherry_rules as rules  # noqa: PLC0415
    from seamline.domain import pricing  # noqa: PLC0415
    from seamline.testing import bluecherry as fake  # noqa: PLC0415
    from seamline_sandbox.bluecherry import validation  # noqa: PLC0415

    assert fake.rules is rules
    assert validation.rules is rules
    assert pricing.rules is rules
    codes = rules.Codes(divisions={"D01"}, warehouses={"W01": "D01", "W02": "D02"},
                        customers={"C1": ("SEK", {"S1"})}, ship_vias={"PN"},
                        order_types={"ECOM"}, terms={"PREPAID"})
    header = rules.Header(customer_po="", division="D01", warehouse="W02", customer="C1",
                          store="S9", ship_via="XX", order_type="ECOM", terms="NET30",
                          currency="EUR")
    found = {(d["field"], d["code"]) for d in rules.header_details(header, codes)}
    assert found == {("customer_po", "MISSING_CUSTOMER_PO"), ("warehouse", "UNKNOWN_WAREHOUSE"),
                     ("store", "UNKNOWN_STORE"), ("ship_via", "UNKNOWN_SHIP_VIA"),
                     ("terms", "UNKNOWN_TERMS"), ("currency", "UNKNOWN_CURRENCY")}
    want = rules.expected_totals([(Decimal("10.00"), 2, Decimal("1.00"), Decimal("4.00"))],
                                 [(Decimal("5.00"), Decimal("1.25"))], prices_include_tax=False)
    assert want["total"] == Decimal("29.25")
    assert rules.totals_details({**want, "tax": Decimal("5.00")}, want)[0]["field"] == "totals.tax"
