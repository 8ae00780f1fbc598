"""Alerts over real routes: a local SMTP server (email) and a local webhook receiver (apprise's
``json://``, as Slack and Teams webhooks are), through the real notifier, the SQLite store and
the job queue's worker; and an outage of the BlueCherry sandbox with many orders failing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alert_receivers import SmtpSink, WebhookSink, wait_for
from seamline.bootstrap import Container, build
from seamline.config import load_settings
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def hooks() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def drain_alerts(container: Container, timeout_s: float = 30.0) -> None:
    """Run a worker on queue ``alerts`` until none of its jobs is waiting or running."""
    stop = threading.Event()
    worker = container.worker(["alerts"], concurrency=2)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()

    def idle() -> bool:
        counts = container.queue.counts(by_queue=True).get("alerts", {})
        return not counts.get("todo") and not counts.get("doing")

    try:
        wait_for(idle, timeout_s=timeout_s, what="the alerts queue to drain")
    finally:
        stop.set()
        thread.join(timeout=30)


def container_for(tmp_path: Path, alerts: dict[str, Any],
                  clock: Clock | None = None) -> Container:
    settings = load_settings(None, env={}, overrides={
        "store": {"database_url": f"sqlite:///{tmp_path / 'alerts.db'}"},
        "alerts": {"digest_at": "", **alerts},
        "queues": {"backoff_base_s": 0.05, "backoff_max_s": 0.2},
    })
    container = build(settings, clock=clock)
    container.db.upgrade()
    return container


def raise_exc(container: Container, type_: str, owner: str, key: str, *,
              at: datetime, severity: str = "error") -> int:
    with container.store.begin() as uow:
        return uow.exceptions.raise_(type=type_, owner=owner, business_key=key,
                                     message=f"{type_} for {key}", severity=severity, now=at)


def test_each_owner_hears_of_its_own_exceptions_once_and_only_past_the_threshold(
        tmp_path: Path, smtp: SmtpSink, hooks: WebhookSink) -> None:
    clock = Clock()
    container = container_for(tmp_path, {
        "routes": {"finance": [smtp.url("finance@example.com")],
                   "ecommerce": [hooks.url("/ecom/T0k3nSecretValue")],
                   "operations": [hooks.url("/ops/hook")]},
        "thresholds": {"UNKNOWN_SKU": 60}, "min_severity": "error"}, clock)
    t0 = clock.now
    raise_exc(container, "TOTAL_MISMATCH", "finance", "order:100", at=t0)
    raise_exc(container, "UNKNOWN_SKU", "ecommerce", "sku:A-1", at=t0)
    raise_exc(container, "POST_CONFLICT", "operations", "order:7", at=t0, severity="warning")
    raise_exc(container, "CONFIG_INVALID", "integrator", "config", at=t0)  # no route
    container.alerts.evaluate()
    drain_alerts(container)
    assert [(m.recipients, m.subject) for m in smtp.mails] == [
        (("finance@example.com",), "Seamline: TOTAL_MISMATCH order:100")]
    assert hooks.posts == []  # UNKNOWN_SKU waits 60 min; a warning is below min_severity
    # Repeats and re-evaluations send nothing new; past the threshold the SKU is alerted.
    raise_exc(container, "TOTAL_MISMATCH", "finance", "order:100", at=t0)
    clock.now = t0 + timedelta(minutes=59)
    container.alerts.evaluate()
    drain_alerts(container)
    assert hooks.posts == []
    clock.now = t0 + timedelta(minutes=61)
    for _ in range(3):
        container.alerts.evaluate()
        drain_alerts(container)
    assert [p.body["title"] for p in hooks.to("/ecom/T0k3nSecretValue")] == [
        "Seamline: UNKNOWN_SKU sku:A-1"]
    assert "open 61 min" in hooks.to("/ecom/T0k3nSecretValue")[0].body["message"]
    assert len(smtp.mails) == 1
    assert hooks.to("/ops/hook") == []
    sent = container.alerts.recent()
    assert sorted((d.owner, d.status) for d in sent) == [("ecommerce", "sent"),
                                                         ("finance", "sent")]
    assert all("T0k3nSecretValue" not in d.destination for d in sent)
    container.close()


def test_a_refused_webhook_is_retried_until_it_takes_the_alert_once(
        tmp_path: Path, hooks: WebhookSink) -> None:
    container = container_for(tmp_path, {"routes": {"operations": [hooks.url("/ops")]}})
    hooks.refuse["/ops"] = 2
    raise_exc(container, "POST_CONFLICT", "operations", "order:9", at=datetime.now(UTC))
    container.alerts.evaluate()
    drain_alerts(container)
    assert [p.body["title"] for p in hooks.to("/ops")] == ["Seamline: POST_CONFLICT order:9"]
    (delivery,) = container.alerts.recent()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    container.close()


def test_the_daily_digest_reaches_each_owner_by_email_with_types_and_ages(
        tmp_path: Path, smtp: SmtpSink) -> None:
    clock = Clock()
    container = container_for(tmp_path, {
        "routes": {"finance": [smtp.url("finance@example.com")],
                   "cx": [smtp.url("cx@example.com")]},
        "digest_at": "00:00", "after_min": 100_000}, clock)
    t0 = clock.now
    for n in range(3):
        raise_exc(container, "TOTAL_MISMATCH", "finance", f"order:{n}",
                  at=t0 - timedelta(hours=5 - n))
    raise_exc(container, "CAPTURE_UNPOSTED", "finance", "capture:1", at=t0 - timedelta(minutes=5))
    for _ in range(2):
        container.alerts.evaluate()
        drain_alerts(container)
    mails = {m.recipients[0]: m for m in smtp.mails}
    assert len(smtp.mails) == 2
    day = t0.date().isoformat()  # digest_at 00:00 UTC: today's digest is due
    assert mails["finance@example.com"].subject == "Seamline daily digest (finance): 4 open"
    body = mails["finance@example.com"].body
    assert f"Open exceptions for finance on {day}: 4." in body
    # One line per type, as written (plain text: the lines reach the reader as lines).
    lines = [line.strip() for line in body.splitlines()]
    assert "- TOTAL_MISMATCH: 3 open, oldest 5 h" in lines
    assert "- CAPTURE_UNPOSTED: 1 open, oldest 5 min" in lines
    assert mails["cx@example.com"].subject == "Seamline daily digest (cx): 0 open"
    container.close()


def test_a_bluecherry_outage_with_many_orders_failing_sends_one_alert_and_one_recovery(
        tmp_path: Path, hooks: WebhookSink) -> None:
    with Sandboxes(seed=21) as sb:
        base = settings_for(sb, f"sqlite:///{tmp_path / 's.db'}")
        settings = settings_for(sb, f"sqlite:///{tmp_path / 's.db'}", overrides={
            "orders": {**base.orders.model_dump(), "max_attempts": 3},
            "queues": {**base.queues.model_dump(), "backoff_base_s": 0.1, "backoff_max_s": 0.5,
                       "concurrency": {"orders": 8, "writeback": 1, "intake": 1, "default": 1,
                                       "alerts": 1},
                       "outage_after_s": 1.0, "outage_probe_max_s": 1.0,
                       "outage_alert_after_min": 0.05},
            "alerts": {"routes": {"operations": [hooks.url("/ops")],
                                  "ecommerce": [hooks.url("/ecom")],
                                  "finance": [hooks.url("/finance")]},
                       "digest_at": ""},
        })
        container = build_seamline(sb, settings)
        container.orders.sync_catalogue()
        orders = sb.place_orders(16, seed=4)
        assert sum(1 for g in orders if g.postable and g.waits_for is None) >= 10
        sb.bluecherry_fault_rates({"503": 1.0}, seed=1)
        stop = threading.Event()

        def evaluate_every_half_second() -> None:
            while not stop.wait(0.5):
                container.alerts.evaluate()

        evaluator = threading.Thread(target=evaluate_every_half_second, daemon=True)
        evaluator.start()
        ended = threading.Timer(8.0, sb.clear_faults)
        ended.start()
        try:
            run_until_quiet(container, timeout_s=90, catalogue=False)
            time.sleep(1.0)  # an evaluation after the last job: the recovery is seen
        finally:
            ended.cancel()
            stop.set()
            evaluator.join(timeout=10)
        container.alerts.evaluate()
        drain_alerts(container)
        fired = sb.faults_snapshot()["bluecherry"]["fired"]
        container.close()
    assert fired.get("503", 0) > 10  # many calls failed
    titles = [p.body["title"] for p in hooks.to("/ops")]
    assert titles == ["Seamline: bluecherry is down", "Seamline: bluecherry is back"]
    assert hooks.to("/ecom") == []
    assert hooks.to("/finance") == []
