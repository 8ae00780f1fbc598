"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from seamline.adapters.store.db import Database
from seamline.adapters.store.exceptions import raise_exception
from seamline.config import load_settings
from seamline.entrypoints.web.app import create_app
from seamline.entrypoints.web.auth import hash_password
from seamline.queue import JobQueue
from seamline_sandbox.serve import ServerThread

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SEAMLINE_CHROMIUM") or shutil.which("chromium") or ""
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

if not CHROMIUM:
    if IN_CI:
        raise RuntimeError("CI=true but no chromium: install Debian's chromium package")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")

PASSWORD = "viewer-password-1"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def dashboard(sqlite_url: str) -> Iterator[str]:
    db = Database(sqlite_url)
    db.upgrade()
    queue = JobQueue(db)
    with db.begin() as conn:
        queue.enqueue(conn, "orders.post", {"number": 1001}, queue="orders")
        raise_exception(conn, type="MAPPING_MISSING", owner="ecommerce",
                        business_key="mapping:market:6/NOK",
                        message="no market mapping for 6/NOK: add a [[markets]] entry for it; "
                                "2 order(s) wait: 1001, 1010",
                        details={"orders": [1001, 1010]})
        raise_exception(conn, type="TOTAL_MISMATCH", owner="finance",
                        business_key="order:1020:totals", message="grand_total: expected 149.00")
    settings = load_settings(env={"SEAMLINE_DATABASE_URL": sqlite_url},
                             overrides={"web": {"users": [{
                                 "name": "vera", "role": "viewer",
                                 "password_hash": hash_password(PASSWORD)}]}})
    app = create_app(settings, db, queue=queue)
    with ServerThread(app) as server:
        yield server.url
    db.dispose()


def test_the_dashboard_shows_open_exceptions_with_their_owners(
    browser: object, dashboard: str
) -> None:
    """A person opening the dashboard sees each open exception, its owner and what to do."""
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(dashboard + "/exceptions")
    assert "/login" in page.url
    page.fill("#username", "vera")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#exceptions")
    assert page.title() == "Seamline"
    rows = page.locator("#exceptions tbody tr")
    assert rows.count() == 2
    text = page.locator("#exceptions").inner_text()
    assert "MAPPING_MISSING" in text
    assert "ecommerce" in text
    assert "add a [[markets]] entry" in text
    assert "finance" in text
    page.goto(dashboard + "/")
    assert page.locator("#flow-orders td.num").first.inner_text() == "1"  # the backlog
    page.close()
