"""The dashboard in a real headless Chromium against a real order flow on the sandboxes.

Orders with the unmapped ``pickup-point`` shipping option (and one of the unmapped market NO)
park on ``MAPPING_MISSING`` exceptions. An operator signs in, finds a parked order by number,
the mapping is fixed in the configuration and the app restarted with it (the config reload is
another part's work), the operator retries and watches the orders post; then bulk-retries the
rest; a viewer can read but not act. Screenshots of the main pages are kept: under
``$SEAMLINE_SCREENSHOTS`` when set, else the test's temporary directory (the path is printed).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seamline.entrypoints.web.app import create_app
from seamline.entrypoints.web.auth import hash_password
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for
from seamline_sandbox.serve import ServerThread
from seamline_sandbox.world import SHIPPING_CODES

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SEAMLINE_CHROMIUM") or shutil.which("chromium") or ""
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
if not CHROMIUM:
    if IN_CI:
        raise RuntimeError("CI=true but no chromium: install Debian's chromium package")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORDS = {"olle": "operator-password-1", "vera": "viewer-password-1"}
USERS = [{"name": "olle", "role": "operator", "password_hash": hash_password(PASSWORDS["olle"])},
         {"name": "vera", "role": "viewer", "password_hash": hash_password(PASSWORDS["vera"])}]
WEB = {"host": "127.0.0.1", "port": 0, "users": USERS, "display_timezone": "Europe/Stockholm",
       "session_secret": "browser-test-session-secret-0123"}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("SEAMLINE_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the dashboard: {path}")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


class Seamline:
    """The app and a worker on one database; ``restart`` serves it again with new settings."""

    def __init__(self, sb: Sandboxes, url: str, shipping: dict[str, str]) -> None:
        self.sb = sb
        self.url = url
        self.container: Any = None
        self.server: ServerThread | None = None
        self.stop = threading.Event()
        self.worker: threading.Thread | None = None
        self.start(shipping)

    def settings(self, shipping: dict[str, str]) -> Any:
        return settings_for(self.sb, self.url, overrides={"web": WEB,
                                                           "shipping_options": shipping})

    def start(self, shipping: dict[str, str]) -> None:
        self.container = build_seamline(self.sb, self.settings(shipping))
        app = create_app(self.container.settings, self.container.db,
                         queue=self.container.queue)
        self.server = ServerThread(app).start()
        self.stop = threading.Event()
        self.worker = threading.Thread(target=self.container.worker().run, args=(self.stop,),
                                       daemon=True)
        self.worker.start()

    def close(self) -> None:
        self.stop.set()
        if self.worker is not None:
            self.worker.join(timeout=30)
        if self.server is not None:
            self.server.stop()
        self.container.close()

    def restart(self, shipping: dict[str, str]) -> None:
        self.close()
        self.start(shipping)

    @property
    def base(self) -> str:
        assert self.server is not None
        return self.server.url


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandboxes, Seamline,
                                                                          list[int], int]]:
    tmp = tmp_path_factory.mktemp("dashboard-flow")
    url = f"sqlite:///{tmp / 'seamline.db'}"
    with Sandboxes(seed=14, lift_rate_limits=True) as sb:
        first = build_seamline(sb, settings_for(sb, url))
        sku = next(i.sku for i in sb.centra.state.world.catalogue if not i.centra_only)
        pickup = [sb.place_order({"market_id": 3, "shipping_option": "pickup-point",
                                  "status": "CONFIRMED", "lines": [{"sku": sku}]}).number
                  for _ in range(2)]
        norway = sb.place_order({"market_id": 6, "lines": [{"sku": sku}]}).number
        sb.place_order({"market_id": 3, "status": "CONFIRMED", "lines": [{"sku": sku}]})
        run_until_quiet(first, timeout_s=90)
        first.close()
        app = Seamline(sb, url, dict(SHIPPING_CODES))
        try:
            yield sb, app, pickup, norway
        finally:
            app.close()


def _sign_in(page: Any, base: str, name: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("#username", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#sign-in")
    page.wait_for_selector("#who")
    assert f"{name} (" in page.inner_text("#who")


def test_an_operator_finds_a_parked_order_fixes_the_mapping_retries_it_and_sees_it_post(
        browser: Any, world: tuple[Sandboxes, Seamline, list[int], int], shots: Path) -> None:
    sb, app, pickup, _norway = world
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    refused: list[str] = []  # the CSP must not block the dashboard's own CSS and JS
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    _sign_in(page, app.base, "olle")
    assert page.evaluate("getComputedStyle(document.querySelector('header')).display") == "flex"
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    assert "waiting" in page.inner_text("#flow-orders") or "parked" in page.inner_text(
        "#flow-orders")

    # Find the parked order by its number.
    page.goto(app.base + "/exceptions")
    page.fill("#search", str(pickup[0]))
    page.click("#apply-filters")
    page.wait_for_selector("#exceptions")
    rows = page.locator("#exceptions tbody tr")
    assert rows.count() == 1
    assert "MAPPING_MISSING" in rows.inner_text()
    assert "pickup-point" in rows.inner_text()
    page.screenshot(path=str(shots / "exceptions.png"), full_page=True)
    rows.locator("a").first.click()
    page.wait_for_selector("#exception")
    held = page.inner_text("#held")
    assert all(str(n) in held for n in pickup)
    page.screenshot(path=str(shots / "exception.png"), full_page=True)

    # Fix the mapping: the configuration gains pickup-point; the app starts again with it.
    detail = page.url.replace(app.base, "")
    app.restart({**SHIPPING_CODES, "pickup-point": SHIPPING_CODES["gb-standard"]})
    page.goto(app.base + detail)  # still signed in: the session cookie outlives the restart
    page.click("#retry")
    page.wait_for_selector("#flash")
    assert f"2 order(s) queued again: {pickup[0]}, {pickup[1]}" in page.inner_text("#flash")

    # Watch it post: the order trace reaches BlueCherry, and the exception closes itself.
    deadline = time.monotonic() + 60
    while True:
        page.goto(f"{app.base}/orders/{pickup[0]}")
        state = page.inner_text("#order-state")
        if state in ("posted", "synced"):
            break
        assert time.monotonic() < deadline, f"order {pickup[0]} still {state}"
        time.sleep(0.5)
    assert re.match(r"SO\S+|\S+", page.inner_text("#order-no"))
    timeline = page.inner_text("#timeline")
    assert "posted to BlueCherry" in timeline
    # The whole story: parked on the mapping, retried by the operator, posted.
    assert "MAPPING_MISSING opened (ecommerce)" in timeline
    assert "MAPPING_MISSING retried" in timeline
    assert "web:olle" in timeline
    assert timeline.index("MAPPING_MISSING retried") < timeline.index("posted to BlueCherry")
    assert "waiting because" not in page.inner_text("#order")
    page.screenshot(path=str(shots / "order-trace.png"), full_page=True)
    counts = sb.bluecherry_reference_counts()
    assert counts.get(sb.reference(pickup[0])) == 1
    page.goto(app.base + detail)
    deadline = time.monotonic() + 30
    while page.inner_text("#exception-state") != "resolved":
        assert time.monotonic() < deadline, "the exception did not resolve itself"
        time.sleep(0.5)
        page.reload()
    for path, name in (("/stock", "stock.png"), ("/config", "configuration.png"),
                       ("/reconciliation", "reconciliation.png")):
        page.goto(app.base + path)
        page.screenshot(path=str(shots / name), full_page=True)
    page.goto(app.base + "/config")
    assert "harness-centra-token" not in page.inner_text("#config")
    assert refused == []
    context.close()


def test_bulk_retry_requeues_the_filtered_set(
        browser: Any, world: tuple[Sandboxes, Seamline, list[int], int]) -> None:
    _sb, app, _pickup, norway = world
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    _sign_in(page, app.base, "olle")
    page.goto(app.base + "/exceptions?owner=ecommerce")
    before = page.inner_text("#count")
    page.click("#bulk-retry")
    page.wait_for_selector("#flash")
    flash = page.inner_text("#flash")
    assert re.search(r"bulk retry: (\d+) of \1 exception\(s\) queued again", flash), (before,
                                                                                     flash)
    # Market NO is still unmapped: its order was queued again and parks again.
    page.goto(f"{app.base}/orders/{norway}")
    deadline = time.monotonic() + 30
    while "web:olle" not in page.inner_text("#timeline") and "retried" not in page.inner_text(
            "#timeline"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
        page.reload()
    context.close()


def test_a_viewer_reads_but_cannot_act(
        browser: Any, world: tuple[Sandboxes, Seamline, list[int], int]) -> None:
    _sb, app, _pickup, norway = world
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, app.base, "vera")
    page.goto(app.base + f"/exceptions?q={norway}")
    page.locator("#exceptions tbody tr a").first.click()
    page.wait_for_selector("#exception")
    assert page.locator("#retry").count() == 0
    assert page.locator("#actions").count() == 0
    token = page.get_attribute("input[name=csrf_token]", "value")
    exception_url = page.url
    resp = page.request.post(exception_url + "/retry", form={"csrf_token": token or ""})
    assert resp.status == 403
    assert "may read but not act" in resp.text()
    context.close()
