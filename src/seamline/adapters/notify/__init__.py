"""Notifications through apprise (email, Slack, Teams, webhooks), behind ``ports.Notifier``."""
from __future__ import annotations

from seamline.adapters.notify.apprise_notifier import AppriseNotifier, redact_url

__all__ = ["AppriseNotifier", "redact_url"]
