"""Several evaluators at once (several scheduler ticks, workers or processes on one database):
each alert is recorded, and its send enqueued, once per route — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.adapters.store.schema import jobs
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.config import AlertSettings
from seamline.queue import JobQueue
from seamline.services.alerts import AlertService
from seamline.testing.notifier import RecordingNotifier

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_concurrent_evaluations_record_each_alert_once_per_route(db: Database) -> None:
    db.upgrade()
    store = SqlStore(db, JobQueue(db, clock=lambda: NOW))
    settings = AlertSettings.model_validate({
        "routes": {"finance": ["json://a/1", "json://a/2"], "operations": ["json://b/1"]},
        "digest_at": "08:00", "max_per_run": 50})
    with store.begin() as uow:
        for n in range(20):
            uow.exceptions.raise_(type="TOTAL_MISMATCH", owner="finance",
                                  business_key=f"order:{n}", message="m",
                                  now=NOW - timedelta(minutes=5))
        uow.exceptions.raise_(type="POST_CONFLICT", owner="operations", business_key="o:1",
                              message="m", now=NOW - timedelta(minutes=5))
    services = [AlertService.for_settings(settings, store=store, notifier=RecordingNotifier(),
                                          clock=lambda: NOW) for _ in range(4)]
    errors: list[BaseException] = []

    def run(svc: AlertService) -> None:
        try:
            for _ in range(5):
                svc.evaluate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with store.read() as uow:
        deliveries = uow.alerts.recent(limit=1000)
    # 20 finance exceptions × 2 routes + 1 operations exception + the digests (2 + 1 routes).
    assert len(deliveries) == 20 * 2 + 1 + 3
    assert len({(d.key, d.destination_hash) for d in deliveries}) == len(deliveries)
    with db.read() as conn:
        sends = conn.execute(sa.select(sa.func.count()).select_from(jobs)
                             .where(jobs.c.task == "alerts.send")).scalar()
    assert sends == len(deliveries)
