"""Response classification: what each BlueCherry answer means, decided in one place."""

from __future__ import annotations

import httpx
import pytest

from seamline.adapters.bluecherry.classify import classify, retry_after_seconds
from seamline.exceptions import (
    AmbiguousWrite,
    AuthFailed,
    Conflict,
    NotFound,
    RateLimited,
    Rejected,
    TransientError,
)

REQ = httpx.Request("POST", "http://bc.test/api/v1/sales-orders")


def _resp(status: int, body: object = None, headers: dict[str, str] | None = None
          ) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=REQ)


def _err(code: str, details: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": "m", "details": details or []}}


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_statuses_are_no_error(status: int) -> None:
    """2xx answers classify as success."""
    assert classify(_resp(status, {}), write=True) is None


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_the_integrators(status: int) -> None:
    """401/403 become AuthFailed owned by the integrator, naming the settings to check."""
    err = classify(_resp(status, _err("UNAUTHORIZED")), write=False)
    assert isinstance(err, AuthFailed)
    assert err.owner_for() == "integrator"
    assert "SEAMLINE_BLUECHERRY_API_KEY" in err.message


def test_a_duplicate_409_carries_the_existing_order() -> None:
    """409 DUPLICATE_* keeps the stored order for the caller to compare."""
    err = classify(_resp(409, {**_err("DUPLICATE_EXTERNAL_REFERENCE"),
                               "order": {"order_no": "SO-1"}}), write=True)
    assert isinstance(err, Conflict)
    assert err.details["code"] == "DUPLICATE_EXTERNAL_REFERENCE"
    assert err.existing == {"order_no": "SO-1"}


def test_a_picked_or_shipped_cancel_is_a_conflict() -> None:
    """409 LINE_PICKED_OR_SHIPPED is a Conflict (CANCEL_REFUSED material) without a record."""
    err = classify(_resp(409, _err("LINE_PICKED_OR_SHIPPED")), write=True)
    assert isinstance(err, Conflict)
    assert err.details["code"] == "LINE_PICKED_OR_SHIPPED"
    assert err.existing is None


def test_a_422_keeps_the_coded_details_and_picks_the_owner() -> None:
    """422 is Rejected with BlueCherry's codes; amount codes are finance's."""
    err = classify(_resp(422, _err("VALIDATION_FAILED", [
        {"field": "totals.total", "code": "TOTALS_MISMATCH"}])), write=True)
    assert isinstance(err, Rejected)
    assert err.codes[0]["code"] == "TOTALS_MISMATCH"
    assert err.owner_for() == "finance"
    err2 = classify(_resp(422, _err("VALIDATION_FAILED", [
        {"field": "lines[0].upc", "code": "UNKNOWN_SKU"}])), write=True)
    assert isinstance(err2, Rejected)
    assert err2.owner_for() == "ecommerce"


def test_a_429_carries_retry_after() -> None:
    """429 becomes RateLimited with the Retry-After seconds."""
    err = classify(_resp(429, _err("RATE_LIMITED"), {"Retry-After": "7"}), write=True)
    assert isinstance(err, RateLimited)
    assert err.retry_after == 7.0


def test_retry_after_as_an_http_date_is_read_relative_to_the_date_header() -> None:
    """Retry-After may be an HTTP date; it is measured from the answer's Date."""
    r = _resp(429, None, {"Retry-After": "Sat, 28 Nov 2026 10:00:30 GMT",
                          "Date": "Sat, 28 Nov 2026 10:00:00 GMT"})
    assert retry_after_seconds(r) == 30.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient_on_reads_and_ambiguous_on_writes(status: int) -> None:
    """5xx: a read may simply be retried; a write may have been applied."""
    assert type(classify(_resp(status), write=False)) is TransientError
    assert type(classify(_resp(status), write=True)) is AmbiguousWrite


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("t", request=REQ),
                                 httpx.RemoteProtocolError("dropped", request=REQ),
                                 httpx.ReadError("reset", request=REQ)])
def test_timeouts_and_resets_are_ambiguous_on_writes(exc: httpx.HTTPError) -> None:
    """No answer to a write means it may have happened."""
    assert type(classify(exc, write=True)) is AmbiguousWrite
    assert type(classify(exc, write=False)) is TransientError


def test_a_refused_connection_never_reached_bluecherry() -> None:
    """A connection that was never made is transient even for a write."""
    err = classify(httpx.ConnectError("refused", request=REQ), write=True)
    assert type(err) is TransientError


def test_not_found_is_permanent() -> None:
    """404 is NotFound."""
    assert isinstance(classify(_resp(404, _err("NOT_FOUND")), write=False), NotFound)


def test_a_malformed_400_is_rejected_with_its_code() -> None:
    """A 400 without details still carries its top-level code."""
    err = classify(_resp(400, _err("MALFORMED")), write=True)
    assert isinstance(err, Rejected)
    assert err.codes == [{"field": "", "code": "MALFORMED"}]
