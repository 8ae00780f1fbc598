"""Alerts to the owner teams: routed by owner, thresholds, one alert per outage and recovery,
a daily digest; delivered once through the job queue (see ``service``)."""
from __future__ import annotations

from seamline.services.alerts.service import AlertService, Evaluation, TestOutcome, route_hash
from seamline.services.alerts.tasks import register_alert_tasks

__all__ = ["AlertService", "Evaluation", "TestOutcome", "register_alert_tasks", "route_hash"]
