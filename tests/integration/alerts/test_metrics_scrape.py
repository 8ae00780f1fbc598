"""``/metrics`` scraped over HTTP: the series the operators alert on, read from the store so a
worker's work shows on the web process — API calls, errors and 429s per system (counted in
the Centra and BlueCherry clients), the outage circuit per system, the order backlog with
the orders waiting for their daily batch and the oldest one's age, job counts, open
exceptions and alert deliveries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alert_receivers import WebhookSink
from seamline.bootstrap import build
from seamline.entrypoints.web.app import create_app
from seamline.queue.circuit import Circuits, CircuitSettings
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for
from seamline_sandbox.serve import ServerThread


@pytest.fixture
def hooks() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[Samples, str]:
    text = httpx.get(f"{url}/metrics", timeout=15).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}, text


def value(samples: Samples, name: str,
          **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_show_api_calls_circuits_backlog_and_alerts_across_processes(
        tmp_path: Path, hooks: WebhookSink) -> None:
    with Sandboxes(seed=5) as sb:
        url = f"sqlite:///{tmp_path / 'm.db'}"
        settings = settings_for(sb, url, mode="daily", overrides={
            "alerts": {"routes": {"operations": [hooks.url("/ops")]}, "digest_at": ""}})
        worker = build_seamline(sb, settings)  # stands for the worker process
        worker.orders.sync_catalogue()
        sb.place_orders(6, seed=3)
        sb.centra_fault("429", 2, retry_after=0.05)
        worker.orders.poll()  # two 429s, retried in process, then the orders
        # The orders' jobs run: in daily mode they wait for the 23:00 batch (not released).
        run_until_quiet(worker, poll=False, batches=False, catalogue=False, timeout_s=60)
        sb.bluecherry_fault("503", 2)
        worker.erp.find_by_external_reference("metrics:probe")  # two 503s, then an answer
        circuits = Circuits(CircuitSettings(open_after_s=0.0))
        with worker.db.begin() as conn:
            for _ in range(3):
                circuits.failed(conn, "bluecherry", "503 Service Unavailable", sb.now())
        with worker.store.read() as uow:
            by_state = uow.orders.count_by_state()
        worker.close()  # flushes its API-call counts to the store

        web_side = build(settings)  # the web process: it made no call itself
        web_side.alerts.test("operations")
        app = create_app(settings, web_side.db, queue=web_side.queue,
                         readiness=web_side.readiness,
                         collectors=web_side.metrics_collectors())
        time.sleep(1.1)
        web = ServerThread(app).start()
        try:
            samples, text = scrape(web.url)
            ready = httpx.get(f"{web.url}/readyz", timeout=15)
        finally:
            web.stop()
            web_side.close()
    # /readyz shows the circuit: BlueCherry down (its jobs wait), Centra's closed.
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert (checks["bluecherry"]["circuit"], checks["bluecherry"]["ok"]) == ("open", False)
    assert "the outage circuit is open" in checks["bluecherry"]["detail"]
    assert checks["centra"]["circuit"] == "closed"
    calls = "seamline_api_calls_total"
    assert value(samples, calls, system="centra", outcome="rate_limited") == 2
    assert (value(samples, calls, system="centra", outcome="ok") or 0) >= 1
    assert value(samples, calls, system="bluecherry", outcome="server_error") == 2
    assert (value(samples, calls, system="bluecherry", outcome="ok") or 0) >= 2
    assert value(samples, "seamline_circuit_open", system="bluecherry") == 1
    assert value(samples, "seamline_circuit_open", system="centra") == 0
    assert value(samples, "seamline_circuit_failures", system="bluecherry") == 3
    assert by_state.get("batch", 0) >= 1
    for state in ("new", "waiting", "batch", "parked", "posting", "posted"):
        assert value(samples, "seamline_orders", state=state) == by_state.get(state, 0), state
    oldest = value(samples, "seamline_order_oldest_unposted_seconds", state="batch")
    assert oldest is not None
    assert 1.0 <= oldest < 600
    assert value(samples, "seamline_order_oldest_unposted_seconds", state="any") == \
        pytest.approx(oldest, abs=2)
    assert value(samples, "seamline_alert_deliveries", kind="test", status="sent") == 1
    assert value(samples, "seamline_store_up") == 1
    assert (value(samples, "seamline_jobs", queue="orders", status="succeeded") or 0) >= 1
    assert "# TYPE seamline_job_events_total counter" in text
