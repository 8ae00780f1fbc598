"""A PostgreSQL blip: the scheduler (a real ``seamline scheduler`` process) and a worker keep
running while every connection is dropped and new ones are refused, log the outage once, and
carry on — ticks enqueue and jobs complete — when the database returns.

The cut is made by a TCP proxy this test owns in front of the test PostgreSQL; the machine's
server is never stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from pg_proxy import CutProxy
from seamline.bootstrap import build
from seamline.config import load_settings
from seamline.entrypoints.web.app import create_app
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra
from seamline_sandbox.serve import ServerThread

pytestmark = pytest.mark.postgres

SEAMLINE = Path(sys.executable).with_name("seamline")


@pytest.fixture
def proxied(make_pg_database: Callable[[], str]) -> Iterator[tuple[str, CutProxy]]:
    direct = sa.make_url(make_pg_database())
    proxy = CutProxy((direct.host or "127.0.0.1", direct.port or 5432))
    url = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield url, proxy
    proxy.close()


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_scheduler_and_worker_ride_out_a_postgresql_cut(
    proxied: tuple[str, CutProxy], tmp_path: Path,
) -> None:
    url, proxy = proxied
    config = tmp_path / "seamline.toml"
    config.write_text('[schedules]\nfast = { task = "health.ping", every_s = 1 }\n')
    settings = load_settings(config, env={"SEAMLINE_DATABASE_URL": url})
    rt = build(settings, centra=FakeCentra(), erp=FakeBlueCherry())
    rt.db.upgrade()
    direct = sa.create_engine(url.replace(str(proxy.port), "5432"), poolclass=sa.pool.NullPool)

    def succeeded_after(t: float) -> int:
        with direct.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM jobs WHERE task = 'health.ping' AND status = 'succeeded' "
                "AND created_at > to_timestamp(:t)"), {"t": t}).scalar() or 0)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env.update(SEAMLINE_DATABASE_URL=url, COLUMNS="300")
    sched = subprocess.Popen([str(SEAMLINE), "-c", str(config), "scheduler"], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = rt.worker(queues=["intake"], concurrency=2)
    worker.poll_interval_s = 0.1
    stop = threading.Event()
    worker_thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    captured = capture_logs()
    logs = captured.__enter__()
    worker_thread.start()
    app = create_app(settings, rt.db, queue=rt.queue, readiness=rt.readiness)
    web = ServerThread(app).start()
    try:
        start = time.time()
        _wait(lambda: succeeded_after(start) >= 2, 30, "jobs before the cut")

        proxy.cut()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        time.sleep(5)  # every connection dropped, new ones refused
        assert sched.poll() is None, "the scheduler exited during the cut"
        assert worker_thread.is_alive(), "the worker stopped during the cut"
        # The web app answers 503 with the reason on every store read, never a 500.
        for path in ("/", "/healthz", "/readyz", "/metrics"):
            status = httpx.get(f"{web.url}{path}", timeout=15).status_code
            assert status == (200 if path == "/metrics" else 503), path
        proxy.restore()

        back = time.time()
        _wait(lambda: succeeded_after(back) >= 3, 60, "ticks enqueued and run after the cut")
        assert sched.poll() is None
        assert worker_thread.is_alive()
        assert httpx.get(f"{web.url}/", timeout=15).status_code == 200
    finally:
        web.stop()
        stop.set()
        worker_thread.join(timeout=30)
        captured.__exit__(None, None, None)
        sched.send_signal(signal.SIGTERM)
        try:
            _out, err = sched.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            sched.kill()
            _out, err = sched.communicate()
        direct.dispose()
        rt.close()
    assert sched.returncode == 0, err
    assert "internal error" not in err
    # Logged once per outage (not per tick), and its end once.
    assert err.count("the database is unavailable") == 1, err
    assert err.count("the database is back") == 1, err
    ours = [e["event"] for e in logs if e.get("log_level") in {"error", "info"}]
    assert ours.count("worker: the database is unavailable; retrying with backoff until it "
                      "returns") == 1, ours
    assert ours.count("worker: the database is back") == 1, ours
