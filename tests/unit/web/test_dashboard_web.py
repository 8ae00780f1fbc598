"""The dashboard over HTTP (ASGI, no server) on the in-memory store: sign-in, roles, CSRF,
security headers, the actions and what the pages show."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from seamline.config import Settings
from seamline.domain.ledger import OrderState
from seamline.entrypoints.web.app import JobCount, create_app
from seamline.entrypoints.web.auth import LoginLimiter, hash_password, verify_password
from seamline.services.dashboard import DashboardService
from seamline.services.exceptions import ExceptionService
from seamline.testing.dashboard import InMemoryDashboardReads
from seamline.testing.store import InMemoryStore

NOW = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
PASSWORDS = {"ada": "ada-password-1", "olle": "olle-password-1", "vera": "vera-password-1"}
HASHES = {name: hash_password(pw, n=2**10) for name, pw in PASSWORDS.items()}


class WebClient:
    """A synchronous client over httpx's ASGI transport that keeps its cookies (Starlette's
    WebClient is deprecated with httpx)."""

    def __init__(self, app: Any, base_url: str = "http://testserver", **_: Any) -> None:
        self.app = app
        self.base_url = base_url
        self.cookies = httpx.Cookies()

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url,
                                         cookies=self.cookies) as client:
                resp = await client.request(method, path, **kw)
                self.cookies = httpx.Cookies(client.cookies)
                return resp

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)


class Source:
    def check(self) -> None: ...

    def job_counts(self) -> list[JobCount]:
        return []

    def open_exceptions(self, limit: int = 200) -> list[dict[str, Any]]:
        return []


def _settings(*, users: bool = True, **web: Any) -> Settings:
    roles = {"ada": "admin", "olle": "operator", "vera": "viewer"}
    data: dict[str, Any] = {"display_timezone": "Europe/Stockholm", **web}
    if users:
        data["users"] = [{"name": n, "role": r, "password_hash": HASHES[n]}
                         for n, r in roles.items()]
        data["session_secret"] = "test-session-secret-0123456789"
    return Settings.model_validate({"web": data, "warehouses": {"1": ["W01"]}})


def _store() -> InMemoryStore:
    store = InMemoryStore(clock=lambda: NOW)
    with store.begin() as uow:
        parked = uow.exceptions.raise_(
            type="MAPPING_MISSING", owner="ecommerce", business_key="mapping:shipping:pickup",
            message="no shipping option mapping for pickup: add it under [shipping_options]",
            now=NOW - timedelta(hours=3))
        uow.exceptions.hold_order(parked, "1001", now=NOW)
        uow.exceptions.hold_order(parked, "1010", now=NOW)
        job = uow.outbox.enqueue("shipments.apply", {"shipment": "S-9", "qty": "1"},
                                 queue="shipments", business_key="shipment:S-9")
        assert job is not None
        uow.exceptions.raise_(type="SHIPMENT_UNMATCHED", owner="operations",
                              business_key="shipment:S-9", message="matches no Centra order",
                              job_id=job, now=NOW - timedelta(days=2))
        uow.exceptions.raise_(type="TOTAL_MISMATCH", owner="finance",
                              business_key="order:1020:totals", message="grand_total differs",
                              now=NOW - timedelta(minutes=5))
    return store


def _ids() -> tuple[int, int, int]:
    by_type = {e["type"]: i for i, e in _store().state.exceptions.items()}
    return by_type["MAPPING_MISSING"], by_type["SHIPMENT_UNMATCHED"], by_type["TOTAL_MISMATCH"]


MAP, SHIP, TOT = _ids()


def _client(store: InMemoryStore, settings: Settings) -> WebClient:
    service = DashboardService(InMemoryDashboardReads(store), store,
                               ExceptionService(store, clock=lambda: NOW), settings,
                               clock=lambda: NOW)
    app = create_app(settings, source=Source(), dashboard=lambda: service)
    return WebClient(app, base_url="http://testserver", follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _cookie_csrf(client: WebClient) -> str:
    """The CSRF token inside the (signed, not encrypted) session cookie."""
    payload = client.cookies["seamline_session"].split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(data["c"])


def _sign_in(client: WebClient, name: str) -> None:
    token = _csrf(client.get("/login").text)
    resp = client.post("/login", data={"username": name, "password": PASSWORDS[name],
                                       "csrf_token": token, "next": "/exceptions"})
    assert resp.status_code == 303
    assert resp.headers["location"] == "/exceptions"


def test_a_password_hash_verifies_its_password_and_no_other() -> None:
    """scrypt hashes are salted: two hashes of one password differ, and each verifies it."""
    a, b = hash_password("s3cret-pass", n=2**10), hash_password("s3cret-pass", n=2**10)
    assert a != b
    assert verify_password("s3cret-pass", a)
    assert not verify_password("s3cret-pasS", a)
    assert not verify_password("s3cret-pass", "scrypt$garbage")


def test_every_page_needs_sign_in_but_health_and_metrics_do_not() -> None:
    """Pages redirect to the sign-in form; machines' endpoints answer without a session."""
    client = _client(_store(), _settings())
    for path in ("/", "/exceptions", f"/exceptions/{MAP}", "/orders/1001", "/stock", "/config",
                 "/reconciliation"):
        resp = client.get(path)
        assert resp.status_code == 303, path
        assert resp.headers["location"].startswith("/login?next=")
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_signing_in_sets_a_signed_http_only_lax_cookie_secure_behind_https() -> None:
    """The session cookie cannot be read by scripts nor sent cross-site; Secure over https."""
    client = _client(_store(), _settings())
    token = _csrf(client.get("/login").text)
    resp = client.post("/login", headers={"x-forwarded-proto": "https"}, data={
        "username": "olle", "password": PASSWORDS["olle"], "csrf_token": token})
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" in cookie
    plain = _client(_store(), _settings())
    token = _csrf(plain.get("/login").text)
    resp = plain.post("/login", data={"username": "olle", "password": PASSWORDS["olle"],
                                      "csrf_token": token})
    assert "secure" not in resp.headers["set-cookie"].lower()
    assert plain.get("/").status_code == 200


def test_a_wrong_password_is_refused_and_repeated_failures_lock_sign_in() -> None:
    """After login_max_failures wrong passwords even the right one waits out the lockout."""
    client = _client(_store(), _settings(login_max_failures=3, login_lockout_s=60))
    for _ in range(3):
        token = _csrf(client.get("/login").text)
        resp = client.post("/login", data={"username": "olle", "password": "nope",
                                           "csrf_token": token})
        assert resp.headers["location"].startswith("/login")
        assert "wrong name or password" in client.get(resp.headers["location"]).text
    token = _csrf(client.get("/login").text)
    resp = client.post("/login", data={"username": "olle", "password": PASSWORDS["olle"],
                                       "csrf_token": token})
    assert resp.headers["location"].startswith("/login")
    assert "too many failed sign-ins" in client.get(resp.headers["location"]).text


def test_the_limiter_forgets_failures_after_the_lockout() -> None:
    now = [0.0]
    limiter = LoginLimiter(2, 60, clock=lambda: now[0])
    limiter.failed("name:x")
    limiter.failed("name:x")
    assert limiter.locked("name:x") == pytest.approx(60)
    now[0] = 61
    assert limiter.locked("name:x") == 0


def test_every_response_carries_the_security_headers() -> None:
    """CSP without inline script, no framing, no sniffing, no cross-site referrer."""
    client = _client(_store(), _settings())
    for resp in (client.get("/login"), client.get("/healthz"), client.get("/")):
        assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "same-origin"


def test_an_action_without_the_csrf_token_is_refused() -> None:
    """A forged cross-site POST (no token, or another's token) changes nothing."""
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "olle")
    assert client.post(f"/exceptions/{MAP}/resolve", data={"note": "x"}).status_code == 422
    resp = client.post(f"/exceptions/{MAP}/resolve", data={"note": "x", "csrf_token": "forged"})
    assert resp.status_code == 403
    with store.read() as uow:
        found = uow.exceptions.get(MAP)
    assert found is not None
    assert found.state == "open"


def test_a_viewer_reads_everything_but_sees_no_buttons_and_may_not_act() -> None:
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "vera")
    page = client.get(f"/exceptions/{MAP}").text
    assert "no shipping option mapping for pickup" in page
    assert 'id="retry"' not in page
    assert 'id="bulk-retry"' not in client.get("/exceptions").text
    token = _csrf(page)  # the sign-out form's token: a valid one
    for action in ("retry", "skip", "resolve"):
        path = f"/exceptions/{MAP}/{action}"
        assert client.post(path, data={"csrf_token": token, "note": "n"}).status_code == 403
    assert client.post("/exceptions/bulk-retry", data={"csrf_token": token}).status_code == 403
    with store.read() as uow:
        assert [j["status"] for j in uow.outbox.s.jobs.values()] == ["todo"]


def test_retrying_a_parked_exception_requeues_every_order_it_holds() -> None:
    """The operator's retry queues each held order's posting again; the history names them."""
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "olle")
    token = _csrf(client.get(f"/exceptions/{MAP}").text)
    resp = client.post(f"/exceptions/{MAP}/retry", data={"csrf_token": token})
    assert resp.headers["location"] == f"/exceptions/{MAP}"
    page = client.get(f"/exceptions/{MAP}").text
    assert "2 order(s) queued again: 1001, 1010" in page
    assert "web:olle" in page
    with store.read() as uow:
        posts = sorted(j["args"]["number"] for j in uow.outbox.s.jobs.values()
                       if j["task"] == "orders.post")
        audit = [a for a in uow.audit.s.audit if a["action"] == "retried"]
    assert posts == [1001, 1010]
    assert audit[0]["actor"] == "web:olle"


def test_edit_and_retry_queues_the_edited_payload_and_keeps_both_in_the_audit_log() -> None:
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "ada")
    page = client.get(f"/exceptions/{SHIP}").text
    assert "&#34;shipment&#34;: &#34;S-9&#34;" in page or '"shipment": "S-9"' in page
    token = _csrf(page)
    edited = '{"shipment": "S-9", "qty": "2"}'
    client.post(f"/exceptions/{SHIP}/edit-retry", data={"csrf_token": token, "payload": edited})
    with store.read() as uow:
        jobs = [j for j in uow.outbox.s.jobs.values() if j["task"] == "shipments.apply"]
        audit = [a for a in uow.audit.s.audit if a["action"] == "edited-and-retried"]
    assert [j["args"] for j in jobs] == [{"shipment": "S-9", "qty": "1"},
                                         {"shipment": "S-9", "qty": "2"}]
    assert audit[0]["detail"]["before"] == {"shipment": "S-9", "qty": "1"}
    assert audit[0]["detail"]["after"] == {"shipment": "S-9", "qty": "2"}
    assert audit[0]["actor"] == "web:ada"


def test_an_edited_payload_with_a_float_amount_is_refused() -> None:
    """Money never travels as a JSON float, not even in a hand-edited payload."""
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "ada")
    token = _csrf(client.get(f"/exceptions/{SHIP}").text)
    resp = client.post(f"/exceptions/{SHIP}/edit-retry",
                       data={"csrf_token": token, "payload": '{"amount": 10.5}'})
    page = client.get(resp.headers["location"]).text
    assert "write amounts as strings" in page
    with store.read() as uow:
        assert len(uow.outbox.s.jobs) == 1


def test_resolve_needs_a_note_and_skip_closes_the_exception() -> None:
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "olle")
    token = _csrf(client.get(f"/exceptions/{TOT}").text)
    client.post(f"/exceptions/{TOT}/resolve", data={"csrf_token": token, "note": "  "})
    assert "a note is required" in client.get(f"/exceptions/{TOT}").text
    client.post(f"/exceptions/{TOT}/resolve", data={"csrf_token": token,
                                               "note": "fixed the voucher in Centra"})
    client.post(f"/exceptions/{SHIP}/skip", data={"csrf_token": token, "note": "test shipment"})
    with store.read() as uow:
        three, two = uow.exceptions.get(TOT), uow.exceptions.get(SHIP)
    assert three is not None
    assert three.state == "resolved"
    assert three.resolution == "fixed the voucher in Centra"
    assert two is not None
    assert two.state == "skipped"


def test_bulk_retry_retries_the_filtered_set_only() -> None:
    store = _store()
    client = _client(store, _settings())
    _sign_in(client, "olle")
    token = _csrf(client.get("/exceptions?owner=ecommerce").text)
    resp = client.post("/exceptions/bulk-retry", data={"csrf_token": token,
                                                       "owner": "ecommerce"})
    assert resp.headers["location"] == "/exceptions?owner=ecommerce"
    page = client.get(resp.headers["location"]).text
    assert "bulk retry: 1 of 1 exception(s) queued again (2 order(s), 0 job(s))" in page
    with store.read() as uow:
        history = uow.exceptions.get(SHIP)
    assert history is not None
    assert [h.action for h in history.history] == ["opened"]


def test_the_list_filters_by_owner_age_and_searches_held_order_numbers() -> None:
    client = _client(_store(), _settings())
    _sign_in(client, "vera")
    assert "3 exception(s)" in client.get("/exceptions").text
    assert "1 exception(s)" in client.get("/exceptions?owner=finance").text
    older = client.get("/exceptions?age=24").text
    assert "1 exception(s)" in older
    assert "SHIPMENT_UNMATCHED" in older
    found = client.get("/exceptions?q=1010").text
    assert "1 exception(s)" in found
    assert "MAPPING_MISSING" in found
    assert "1 exception(s)" in client.get("/exceptions?q=S-9").text
    # The filter form sends its empty fields: they filter nothing.
    form = client.get("/exceptions?q=1010&type=&owner=&state=open&age=")
    assert form.status_code == 200
    assert "1 exception(s)" in form.text


def test_the_overview_shows_exceptions_by_owner_and_age_in_the_display_zone() -> None:
    """Local time without microseconds; buckets per owner."""
    client = _client(_store(), _settings())
    _sign_in(client, "vera")
    html = client.get("/").text
    assert "2026-12-01 10:30:15 CET" in html
    assert ".123456" not in html
    row = re.search(r'<a href="/exceptions\?owner=operations">operations</a></td>(.*?)</tr>',
                    html, re.S)
    assert row is not None
    assert [int(n) for n in re.findall(r">(\d+)<", row.group(1))] == [0, 0, 1, 0, 1]
    assert "auto-refresh: off" in html
    assert '<meta http-equiv="refresh"' in client.get("/?refresh=1").text


def test_the_configuration_page_hides_secrets_and_password_hashes() -> None:
    client = _client(_store(), _settings())
    _sign_in(client, "vera")
    html = client.get("/config").text
    assert "test-session-secret" not in html
    assert "scrypt$" not in html
    assert '&#34;password_hash&#34;: &#34;***&#34;' in html or '"password_hash": "***"' in html


def test_with_no_users_the_dashboard_is_read_only() -> None:
    """No [[web.users]]: pages open, but every action is refused."""
    store = _store()
    client = _client(store, _settings(users=False))
    page = client.get(f"/exceptions/{MAP}")
    assert page.status_code == 200
    assert "read-only" in page.text
    assert 'id="retry"' not in page.text
    token = _cookie_csrf(client)  # the visitor's own valid token: still not allowed to act
    resp = client.post(f"/exceptions/{MAP}/retry", data={"csrf_token": token})
    assert resp.status_code == 403
    assert "may read but not act" in resp.text


def test_a_next_url_never_leads_off_the_site() -> None:
    client = _client(_store(), _settings())
    token = _csrf(client.get("/login").text)
    resp = client.post("/login", data={"username": "olle", "password": PASSWORDS["olle"],
                                       "csrf_token": token, "next": "//evil.example/"})
    assert resp.headers["location"] == "/"


def test_the_order_trace_tells_the_orders_story_from_every_source() -> None:
    """Ledger milestones, the exception holding it with its history, the jobs, in time order."""
    store = _store()
    with store.begin() as uow:
        uow.orders.save(1001, state=OrderState.PARKED, now=NOW, data={
            "snapshot": {"status": "CONFIRMED", "currency": "SEK"},
            "first_seen": (NOW - timedelta(hours=3)).isoformat(),
            "reason": "no shipping option mapping for pickup"})
    client = _client(store, _settings())
    _sign_in(client, "olle")
    client.post(f"/exceptions/{MAP}/retry", data={"csrf_token": _csrf(
        client.get(f"/exceptions/{MAP}").text)})
    html = client.get("/orders/1001").text
    assert 'id="order-state">parked<' in html
    story = html.split('id="timeline"')[1]
    assert story.index("received from Centra") < story.index("MAPPING_MISSING opened")
    assert "MAPPING_MISSING retried" in story
    assert "web:olle" in story
    assert "orders.post" in story
    assert client.get("/orders/999999").status_code == 404
    assert client.get("/orders?number=%231001").headers["location"] == "/orders/1001"


def test_the_reconciliation_page_lists_and_shows_a_providers_reports() -> None:
    from datetime import date  # noqa: PLC0415

    from seamline.services.dashboard import ReportRef  # noqa: PLC0415

    class Reports:
        def list_reports(self) -> list[ReportRef]:
            return [ReportRef(date(2026, 12, 1), "SE", "all tie out")]

        def render_html(self, day: date, market: str) -> str | None:
            return "<p id='r'>SEK 1,000.00 = 1,000.00</p>" if market == "SE" else None

    store = _store()
    settings = _settings()
    service = DashboardService(InMemoryDashboardReads(store), store, ExceptionService(store),
                               settings, reconciliation=Reports(), clock=lambda: NOW)
    client = WebClient(create_app(settings, source=Source(), dashboard=lambda: service))
    _sign_in(client, "vera")
    listing = client.get("/reconciliation").text
    assert 'href="/reconciliation/2026-12-01/SE"' in listing
    assert "all tie out" in listing
    assert "SEK 1,000.00 = 1,000.00" in client.get("/reconciliation/2026-12-01/SE").text
    assert client.get("/reconciliation/2026-12-01/NO").status_code == 404
    assert client.get("/reconciliation/not-a-day/SE").status_code == 422


def test_the_orders_page_lists_the_orders_that_wait_by_state() -> None:
    """Orders waiting for the daily batch are listed, not hidden; each links to its trace."""
    store = _store()
    with store.begin() as uow:
        for n in (2001, 2002):
            uow.orders.save(n, state=OrderState.BATCH, now=NOW,
                            data={"reason": "waits for the 23:00 batch"})
    client = _client(store, _settings())
    _sign_in(client, "vera")
    html = client.get("/orders?state=batch").text
    assert "waiting for the daily batch (2)" in html
    assert 'href="/orders/2001"' in html
    assert "waits for the 23:00 batch" in html
    assert "No orders parked on an exception" in client.get("/orders").text
