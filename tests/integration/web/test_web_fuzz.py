"""The web API fuzzed from its own OpenAPI document (schemathesis, over real HTTP): no request
that the schema allows, or that breaks it, gets a 500.

The app runs on a migrated SQLite store holding a few exceptions, behind uvicorn. The fuzzing
client is signed in as an operator and sends the session's CSRF token in every form, so the
generated requests reach the handlers (the refusals without them are tested elsewhere).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from seamline.adapters.store.db import Database
from seamline.adapters.store.exceptions import raise_exception
from seamline.config import Settings
from seamline.entrypoints.web.app import create_app
from seamline.entrypoints.web.auth import hash_password
from seamline.queue import JobQueue
from seamline_sandbox.serve import ServerThread

PASSWORD = "fuzzing-password-1"
WEB = {"users": [{"name": "olle", "role": "operator",
                  "password_hash": hash_password(PASSWORD, n=2**10)}],
       "session_secret": "fuzz-session-secret-0123456789"}


def _app(url: str) -> tuple[Any, Database]:
    db = Database(url)
    db.upgrade()
    queue = JobQueue(db)
    with db.begin() as conn:
        job = queue.enqueue(conn, "orders.post", {"number": 1001}, queue="orders",
                            business_key="order:1001")
        raise_exception(conn, type="MAPPING_MISSING", owner="ecommerce",
                        business_key="mapping:shipping_option:pickup-point",
                        message="no shipping option mapping for pickup-point")
        raise_exception(conn, type="POST_FAILED", owner="operations", business_key="order:1001",
                        message="BlueCherry answered 503", job_id=job)
    settings = Settings.model_validate({"store": {"database_url": url}, "web": WEB})
    return create_app(settings, db, queue=queue), db


def _schema() -> Any:
    """The app's own OpenAPI document (the routes do not depend on the database, which this
    app never opens)."""
    url = f"sqlite:///{tempfile.mkdtemp(prefix='seamline-schema-')}/unused.db"
    app = create_app(Settings.model_validate({"web": WEB}), Database(url))
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()
#: Status codes seen per operation (the last test checks the fuzzing reached the handlers).
SEEN: dict[str, set[int]] = {}
#: Cases seen per path with an exception id (every other one is given an existing id).
TURNS: dict[str, int] = {}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str, str, Callable[[], int]]]:
    """The app on a real port; a signed-in operator's session cookie and CSRF token; a way to
    open one more exception (its id)."""
    app, db = _app(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'seamline.db'}")
    opened = iter(range(1, 1_000_000))

    def fresh() -> int:
        n = next(opened)
        with db.begin() as conn:
            job = JobQueue(db).enqueue(conn, "orders.post", {"number": 5000 + n},
                                       queue="orders", business_key=f"order:{5000 + n}")
            return raise_exception(conn, type="POST_FAILED", owner="operations",
                                   business_key=f"order:{5000 + n}",
                                   message="BlueCherry answered 503", job_id=job)

    with ServerThread(app) as server, httpx.Client(base_url=server.url) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        client.post("/login", data={"username": "olle", "password": PASSWORD,
                                    "csrf_token": token.group(1)})
        page = client.get("/exceptions").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None, "sign-in failed"
        yield server.url, client.cookies["seamline_session"], csrf.group(1), fresh
    db.dispose()


#: One pytest item per operation of the app's OpenAPI document. (Explicit rather than
#: schemathesis's own ``parametrize``: under pytest-xdist that collapses into one item that
#: fuzzes the first operation only.)
OPERATIONS = [r.ok() for r in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_request_gets_a_server_error(
        operation: Any, served: tuple[str, str, str, Callable[[], int]]) -> None:
    base, cookie, csrf, fresh = served

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        if isinstance(case.body, dict) and "csrf_token" in case.body:
            case.body["csrf_token"] = csrf
        params = case.path_parameters or {}
        if "exception_id" in params:
            # Every other case names an exception opened for it (earlier cases may have
            # resolved or skipped the others), so actions are reached whatever ids the
            # generator draws; the rest keep the drawn id (mostly unknown).
            TURNS[case.path] = TURNS.get(case.path, 0) + 1
            if TURNS[case.path] % 2:
                params["exception_id"] = fresh()
        response = case.call(base_url=base, cookies={"seamline_session": cookie},
                             allow_redirects=False, timeout=30)
        SEEN.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, case.query,
                                             case.body, response.text[:500])

    fuzz()


def test_the_fuzzing_reached_the_handlers_past_sign_in_and_csrf() -> None:
    """Actions answered with their own redirect (303), not only 403/422 refusals."""
    if not SEEN:
        pytest.skip("runs after the fuzzing test in this module")
    reached = {op for op, codes in SEEN.items() if op.startswith("POST") and 303 in codes}
    posts = {op: codes for op, codes in SEEN.items() if op.startswith("POST")}
    assert "POST /exceptions/{exception_id}/retry" in reached, posts
    assert "POST /exceptions/bulk-retry" in reached, posts
    pages = {op for op, codes in SEEN.items() if op.startswith("GET") and 200 in codes}
    assert {"GET /", "GET /exceptions", "GET /stock"} <= pages, SEEN
