"""The schedules a Seamline scheduler runs: the built-in ones and ``[schedules]`` over them.

Kept apart from the composition root (and free of the store and the queue) so that
``seamline config check`` can say which schedules will run without loading either.
"""

from __future__ import annotations

from seamline.config import ScheduleEntry, Settings

__all__ = ["schedules_with_defaults"]


def schedules_with_defaults(settings: Settings) -> dict[str, ScheduleEntry]:
    """The configured ``[schedules]`` over the built-in ones (a configured name wins).

    Built in: polling Centra by ``updatedAt`` (the safety net), daily batches (checked every
    minute), the recovery sweep (daily), the BlueCherry catalogue sync (hourly), the Centra
    schema check (at start-up, then every quarter of an hour), the health ping (every
    minute: one small read of each system, for ``/readyz``), the stock sync (the delta every
    ``[stock].delta_interval_s``, the full one every ``[stock].full_interval_min``, when
    ``[warehouses]`` maps any), BlueCherry's shipment feed
    (every ``[shipments].sync_interval_min``), the shipment watchdog (every
    ``[shipments].watchdog_interval_min``), the Centra budget's dispatch-delay watch (every
    minute), the payment batch (checked every minute: each
    market's previous business day runs at ``[payments].batch_time`` in its time zone, when
    ``[payments].enabled``), the drift scan (every
    ``[drift].scan_interval_min``), the missing-in-ERP watchdog (every
    ``[watchdogs].missing_in_erp_interval_min``), the daily reconciliation (checked every
    minute, per market time zone at ``[reconcile].run_at``, when markets are mapped), the
    alerts (every ``[alerts].interval_s``, when ``[alerts.routes]`` names any route) and, when
    ``[centra].use_events_queue``, Centra's events queue (every minute).
    """
    builtin = {
        "orders-poll": ScheduleEntry(task="orders.poll",
                                     every_s=settings.orders.poll_interval_min * 60),
        "orders-batch": ScheduleEntry(task="orders.batch", every_s=60),
        "orders-sweep": ScheduleEntry(task="orders.sweep", every_s=24 * 3600),
        "catalogue-sync": ScheduleEntry(task="catalogue.sync", every_s=3600),
        # Every Centra operation against the environment's schema and the token's
        # permissions: at start-up (the first tick), then every quarter of an hour.
        "centra-schema": ScheduleEntry(task="centra.schema", every_s=900),
        # One small read of Centra and of BlueCherry, recorded for /readyz.
        "health-ping": ScheduleEntry(task="health.ping", every_s=60),
        # BlueCherry shipments into Centra, and the shipments Centra still lacks.
        "shipments-sync": ScheduleEntry(task="shipments.sync",
                                        every_s=settings.shipments.sync_interval_min * 60),
        "shipments-watchdog": ScheduleEntry(
            task="shipments.watchdog", every_s=settings.shipments.watchdog_interval_min * 60),
        # BlueCherry orders changed by someone else than Seamline, and posts that never came.
        "drift-scan": ScheduleEntry(task="drift.scan",
                                    every_s=settings.drift.scan_interval_min * 60),
        "missing-in-erp": ScheduleEntry(
            task="watchdogs.missing_in_erp",
            every_s=settings.watchdogs.missing_in_erp_interval_min * 60),
        # The shipments waiting for Centra's API budget, and CENTRA_BUDGET_DELAY when they
        # would hold dispatch emails back too long.
        "centra-budget": ScheduleEntry(task="centra.budget", every_s=60),
    }
    if settings.stock.enabled and settings.warehouses:
        # The delta sync looks for a new BlueCherry cycle; the full sync re-sends every size.
        builtin["stock-delta"] = ScheduleEntry(task="stock.sync",
                                               every_s=settings.stock.delta_interval_s)
        builtin["stock-full"] = ScheduleEntry(task="stock.sync",
                                              every_s=settings.stock.full_interval_min * 60,
                                              args={"full": True})
    if settings.payments.enabled:
        # Each market's previous business day, at [payments].batch_time in its time zone.
        builtin["payments-batch"] = ScheduleEntry(task="payments.batch", every_s=60)
    if settings.reconcile.enabled and settings.markets:
        # Checked every minute; each market's previous business day is reconciled once at
        # [reconcile].run_at in its own time zone.
        builtin["reconcile-daily"] = ScheduleEntry(task="reconcile.daily", every_s=60)
    if any(settings.alerts.routes.values()):
        # What needs an alert (thresholds, outages and recoveries, stuck orders, digests).
        builtin["alerts"] = ScheduleEntry(task="alerts.evaluate",
                                          every_s=settings.alerts.interval_s)
    if settings.centra.use_events_queue:
        builtin["centra-events"] = ScheduleEntry(task="centra.events", every_s=60)
    return {**builtin, **settings.schedules}
