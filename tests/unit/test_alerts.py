"""Alerts: the pure decisions (threshold, severity, outage and recovery, stuck orders, digest)
and the service on the in-memory store with a recording notifier (routing by owner, one
delivery per alert, retries, restarts)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from seamline.config import AlertSettings
from seamline.domain.alerts import (
    AlertRules,
    SystemOutage,
    digest_alerts,
    exception_alerts,
    group_alerts,
    outage_alerts,
    stuck_orders_alert,
)
from seamline.domain.exception_records import ExceptionRecord
from seamline.domain.ledger import OrderState
from seamline.exceptions import AlertNotDelivered
from seamline.queue import TaskRegistry
from seamline.queue.circuit import SystemState
from seamline.services.alerts import AlertService, register_alert_tasks
from seamline.testing.notifier import RecordingNotifier
from seamline.testing.store import InMemoryStore, InMemoryWorker

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def exc(i: int, type_: str = "UNKNOWN_SKU", owner: str = "ecommerce", *, minutes: int = 60,
        severity: str = "error", count: int = 1) -> ExceptionRecord:
    at = NOW - timedelta(minutes=minutes)
    return ExceptionRecord(id=i, type=type_, owner=owner, severity=severity,
                           business_key=f"k:{i}", state="open", count=count, message="m",
                           details=None, payload=None, job_id=None, attempts=0, first_seen=at,
                           last_seen=at, resolved_at=None, resolved_by=None, resolution=None)


# -- the decisions ---------------------------------------------------------------------------


def test_an_exception_is_alerted_once_past_its_types_threshold_and_at_least_the_severity() -> None:
    rules = AlertRules(after_min=10, thresholds={"UNKNOWN_SKU": 120}, min_severity="error")
    got = exception_alerts([exc(1, minutes=60), exc(2, "TOTAL_MISMATCH", "finance", minutes=11),
                            exc(3, "TOTAL_MISMATCH", "finance", minutes=9),
                            exc(4, "POST_REJECTED", severity="warning", minutes=500),
                            exc(5, minutes=121, count=7)], rules, NOW)
    assert [(a.key, a.owner) for a in got] == [("exception:2", "finance"),
                                               ("exception:5", "ecommerce")]
    assert "(7 times)" in got[1].body
    assert "seamline exceptions show 5" in got[1].body


def test_while_a_system_is_down_its_outage_speaks_for_the_failures_it_causes() -> None:
    rows = [exc(1, "POST_FAILED", "operations"), exc(2, "SYSTEM_UNAVAILABLE", "operations"),
            exc(3, "UNKNOWN_SKU"), exc(4, "ALERT_FAILED", "integrator")]
    assert [a.key for a in exception_alerts(rows, AlertRules(), NOW, down=["bluecherry"])] == \
        ["exception:3"]
    assert [a.key for a in exception_alerts(rows, AlertRules(), NOW)] == \
        ["exception:1", "exception:3"]


def test_an_outage_is_announced_once_and_its_recovery_once() -> None:
    since = NOW - timedelta(minutes=3)
    down = [SystemOutage("bluecherry", since, "503"), SystemOutage("centra", None)]
    first, state = outage_alerts(down, {}, NOW)
    assert [(a.kind, a.key) for a in first] == \
        [("outage", f"outage:bluecherry:{since.isoformat()}")]
    again, state2 = outage_alerts(down, state, NOW + timedelta(minutes=5))
    assert again == []
    assert state2 == state
    back, state3 = outage_alerts([SystemOutage("bluecherry", None)], state2, NOW)
    assert [(a.kind, a.title) for a in back] == [("recovery", "Seamline: bluecherry is back")]
    assert state3 == {}
    assert outage_alerts([SystemOutage("bluecherry", None)], state3, NOW) == ([], {})


def test_an_outage_shorter_than_the_configured_wait_is_not_announced() -> None:
    down = [SystemOutage("centra", NOW - timedelta(minutes=2))]
    assert outage_alerts(down, {}, NOW, after=timedelta(minutes=5)) == ([], {})
    assert len(outage_alerts(down, {}, NOW, after=timedelta(minutes=2))[0]) == 1


def test_stuck_orders_raise_one_alert_and_one_when_none_is_stuck() -> None:
    rules = AlertRules(order_stuck_min=30)
    waiting = {1: NOW - timedelta(minutes=31), 2: NOW - timedelta(minutes=45),
               3: NOW - timedelta(minutes=5)}
    alert, announced = stuck_orders_alert(waiting, rules, NOW, announced=None)
    assert alert is not None
    assert announced == (NOW - timedelta(minutes=45)).isoformat()
    assert alert.title == "Seamline: 2 order(s) not posted after 30 min"
    assert "the oldest, 2, for 45 min" in alert.body
    assert "Orders: 1, 2." in alert.body
    assert stuck_orders_alert(waiting, rules, NOW, announced=announced) == (None, announced)
    cleared, after = stuck_orders_alert({3: NOW}, rules, NOW, announced=announced)
    assert cleared is not None
    assert (cleared.kind, after) == ("recovery", None)
    assert stuck_orders_alert({}, rules, NOW, announced=None) == (None, None)


def test_the_digest_is_per_owner_by_type_and_age_after_its_local_time() -> None:
    rules = AlertRules(digest_at=time(9, 30), timezone="Europe/Stockholm")  # 08:30 UTC
    rows = [exc(1, minutes=30), exc(2, minutes=3000), exc(3, "TOTAL_MISMATCH", "finance")]
    assert digest_alerts(rows, ["ecommerce"], rules, NOW - timedelta(minutes=31)) == []
    got = {a.owner: a for a in digest_alerts(rows, ["ecommerce", "cx"], rules, NOW)}
    assert sorted(got) == ["cx", "ecommerce"]
    assert got["ecommerce"].key == "digest:ecommerce:2026-03-02"
    assert got["ecommerce"].body.splitlines()[:2] == [
        "Open exceptions for ecommerce on 2026-03-02: 2.", "- UNKNOWN_SKU: 2 open, oldest 2 d"]
    assert got["cx"].title == "Seamline daily digest (cx): 0 open"
    assert digest_alerts(rows, ["cx"], AlertRules(digest_at=None), NOW) == []


def test_many_new_exceptions_for_one_owner_become_one_summary_alert() -> None:
    rows = [exc(i, "UNKNOWN_SKU") for i in range(1, 8)] + [exc(8, "MAPPING_MISSING")] + \
        [exc(9, "TOTAL_MISMATCH", "finance")]
    send, grouped = group_alerts(exception_alerts(rows, AlertRules(), NOW), limit=5)
    assert [a.key for a in grouped] == [f"exception:{i}" for i in range(1, 9)]
    assert [(a.owner, a.kind) for a in send] == [("ecommerce", "summary"),
                                                ("finance", "exception")]
    summary = send[0]
    assert summary.title == "Seamline: 8 new exceptions for ecommerce"
    assert "- UNKNOWN_SKU: 7\n- MAPPING_MISSING: 1" in summary.body
    again, _ = group_alerts(exception_alerts(rows, AlertRules(), NOW), limit=5)
    assert again[0].key == summary.key  # the same group is the same alert
    assert group_alerts(exception_alerts(rows[:5], AlertRules(), NOW), limit=5)[1] == []


# -- the service on the in-memory store -------------------------------------------------------

ROUTES = {"ecommerce": ["json://ecom/hook"], "finance": ["mailto://fin", "json://fin/hook"],
          "operations": ["json://ops/hook"]}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def service(**alerts: Any) -> tuple[AlertService, InMemoryStore, RecordingNotifier, Clock,
                                     InMemoryWorker]:
    clock = Clock()
    registry = TaskRegistry()
    store = InMemoryStore(clock=clock, registry=registry)
    notifier = RecordingNotifier()
    settings = AlertSettings.model_validate({"routes": ROUTES, "digest_at": "", **alerts})
    svc = AlertService.for_settings(settings, store=store, notifier=notifier, clock=clock)
    register_alert_tasks(registry, lambda: svc)
    return svc, store, notifier, clock, InMemoryWorker(store, registry)


def raise_exc(store: InMemoryStore, type_: str, owner: str, key: str, *, at: datetime) -> int:
    with store.begin() as uow:
        return uow.exceptions.raise_(type=type_, owner=owner, business_key=key, message="m",
                                     now=at)


def test_alerts_go_to_the_owners_routes_once_however_often_it_is_evaluated() -> None:
    svc, store, notifier, clock, worker = service()
    raise_exc(store, "TOTAL_MISMATCH", "finance", "order:1", at=NOW)
    raise_exc(store, "UNKNOWN_SKU", "ecommerce", "sku:X", at=NOW)
    raise_exc(store, "CONFIG_INVALID", "integrator", "config", at=NOW)  # no route: nothing
    first = svc.evaluate()
    assert len(first.deliveries) == 3
    raise_exc(store, "UNKNOWN_SKU", "ecommerce", "sku:X", at=NOW)  # a repeat
    assert svc.evaluate().deliveries == ()
    worker.drain()
    assert sorted(s.url for s in notifier.sent) == ["json://ecom/hook", "json://fin/hook",
                                                    "mailto://fin"]
    clock.now += timedelta(hours=1)
    assert svc.evaluate().deliveries == ()
    assert worker.drain() == 0  # nothing new to send
    assert len(notifier.sent) == 3
    assert {d.status for d in svc.recent()} == {"sent"}


def test_a_go_live_with_many_open_exceptions_sends_one_summary_then_one_per_new_one() -> None:
    svc, store, notifier, clock, worker = service(max_per_run=3)
    for n in range(12):
        raise_exc(store, "UNKNOWN_SKU", "ecommerce", f"sku:{n}", at=NOW)
    svc.evaluate()
    worker.drain()
    assert [s.title for s in notifier.sent] == ["Seamline: 12 new exceptions for ecommerce"]
    clock.now += timedelta(minutes=1)
    svc.evaluate()
    worker.drain()
    assert len(notifier.sent) == 1  # the grouped ones are never sent one by one
    raise_exc(store, "UNKNOWN_SKU", "ecommerce", "sku:new", at=clock.now)
    svc.evaluate()
    worker.drain()
    assert [s.title for s in notifier.sent][1:] == ["Seamline: UNKNOWN_SKU sku:new"]
    assert sorted({d.status for d in svc.recent(limit=100)}) == ["grouped", "sent"]


def test_a_refused_send_is_retried_with_backoff_then_sent_once() -> None:
    svc, store, notifier, clock, worker = service()
    notifier.failing["json://ops/hook"] = 2
    raise_exc(store, "POST_CONFLICT", "operations", "order:9", at=NOW)
    (delivery,) = svc.evaluate().deliveries
    worker.drain()
    with store.read() as uow:
        d = uow.alerts.get(delivery)
    assert d is not None
    assert (d.status, d.attempts, d.last_error) == ("pending", 1, "json://***: refused")
    for _ in range(4):
        clock.now += timedelta(minutes=20)
        worker.drain()
    with store.read() as uow:
        d = uow.alerts.get(delivery)
    assert d is not None
    assert (d.status, d.attempts) == ("sent", 3)
    assert len(notifier.to("json://ops/hook")) == 1


def test_a_route_that_never_answers_ends_failed_with_an_exception_that_is_not_alerted() -> None:
    svc, store, notifier, clock, worker = service()
    notifier.failing["json://ops/hook"] = None
    raise_exc(store, "POST_CONFLICT", "operations", "order:9", at=NOW)
    (delivery,) = svc.evaluate().deliveries
    for _ in range(10):
        worker.drain()
        clock.now += timedelta(hours=1)
    with store.read() as uow:
        d = uow.alerts.get(delivery)
        failed = uow.exceptions.find(type="ALERT_FAILED")
    assert d is not None
    assert (d.status, d.attempts) == ("failed", 6)
    assert [(e.owner, e.business_key) for e in failed] == [("integrator", f"alert:{delivery}")]
    assert svc.evaluate().deliveries == ()  # ALERT_FAILED is never alerted itself


def test_an_outage_in_the_circuit_alerts_operations_once_and_its_recovery_once() -> None:
    svc, store, notifier, clock, worker = service()
    down = SystemState("bluecherry", failures=40, failing_since=NOW,
                       down_since=NOW + timedelta(seconds=10), last_error="503")
    with store.begin() as uow:
        uow.cursors.set("outage:bluecherry", down.to_json())
    for n in range(1, 30):  # many orders failing while it is down: covered by the outage
        raise_exc(store, "POST_FAILED", "operations", f"order:{n}", at=NOW)
    for _ in range(5):
        clock.now += timedelta(minutes=1)
        svc.evaluate()
        worker.drain()
    assert [s.title for s in notifier.sent] == ["Seamline: bluecherry is down"]
    with store.begin() as uow:
        uow.cursors.set("outage:bluecherry", SystemState("bluecherry").to_json())
        for n in range(1, 30):
            uow.exceptions.resolve_for_key(f"order:{n}")
    for _ in range(3):
        clock.now += timedelta(minutes=1)
        svc.evaluate()
        worker.drain()
    assert [s.title for s in notifier.sent] == ["Seamline: bluecherry is down",
                                                "Seamline: bluecherry is back"]


def test_orders_stuck_unposted_alert_ecommerce_but_batch_orders_do_not() -> None:
    svc, store, _, clock, _ = service(order_stuck_min=30)
    with store.begin() as uow:
        uow.orders.save(1, state=OrderState.NEW, data={"first_seen": NOW.isoformat()}, now=NOW)
        uow.orders.save(2, state=OrderState.BATCH, data={"first_seen": NOW.isoformat()},
                        now=NOW)
    clock.now += timedelta(minutes=29)
    assert svc.evaluate().alerts == ()
    clock.now += timedelta(minutes=2)
    (alert,) = svc.evaluate().alerts
    assert (alert.owner, alert.kind) == ("ecommerce", "stuck")
    assert "Orders: 1." in alert.body
    assert svc.evaluate().alerts == ()


def test_orders_held_up_by_an_outage_are_told_by_the_outage_alert_alone() -> None:
    svc, store, _, clock, _ = service(order_stuck_min=30)
    down = SystemState("bluecherry", failures=9, failing_since=NOW, down_since=NOW)
    with store.begin() as uow:
        uow.cursors.set("outage:bluecherry", down.to_json())
        uow.orders.save(1, state=OrderState.POSTING, data={"first_seen": NOW.isoformat()},
                        now=NOW)
    clock.now += timedelta(minutes=45)
    assert [a.kind for a in svc.evaluate().alerts] == ["outage"]
    assert svc.evaluate().alerts == ()
    with store.begin() as uow:
        uow.cursors.set("outage:bluecherry", SystemState("bluecherry").to_json())
    # Back, and the order has still not posted: now it is stuck.
    assert sorted(a.kind for a in svc.evaluate().alerts) == ["recovery", "stuck"]


def test_a_test_notification_reaches_every_route_and_reports_each_outcome() -> None:
    svc, _, notifier, _, _ = service()
    notifier.failing["mailto://fin"] = None
    got = svc.test()
    assert [(o.owner, o.ok) for o in got] == [("ecommerce", True), ("finance", False),
                                              ("finance", True), ("operations", True)]
    assert got[1].error == "mailto://***: refused"
    assert [(o.owner, o.ok) for o in svc.test("finance")] == [("finance", False),
                                                              ("finance", True)]
    assert [(d.kind, d.status) for d in svc.recent(limit=2)] == [("test", "sent"),
                                                                 ("test", "failed")]


def test_alert_routes_name_known_owners_and_never_print_their_urls() -> None:
    with pytest.raises(ValueError, match="unknown owner warehouse"):
        AlertSettings.model_validate({"routes": {"warehouse": ["json://x"]}})
    with pytest.raises(ValueError, match="HH:MM"):
        AlertSettings.model_validate({"digest_at": "8am"})
    s = AlertSettings.model_validate({"routes": {"cx": ["slack://tokenA/tokenB/tokenC"]}})
    assert "tokenA" not in repr(s)
    assert "tokenA" not in str(s)


def test_a_send_error_names_the_route_redacted() -> None:
    notifier = RecordingNotifier(failing={"slack://secret-token/x": None})
    with pytest.raises(AlertNotDelivered) as caught:
        notifier.send("slack://secret-token/x", "t", "b")
    assert "secret-token" not in caught.value.message
