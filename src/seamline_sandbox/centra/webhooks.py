"""Centra's webhook plugin ("Integration API" version): signed form posts of change events.

Wire format: ``POST`` ``application/x-www-form-urlencoded`` with one field
``payload=<url-encoded JSON {"events": [{type, action, date, id}]}>`` and the header
``X-Centra-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>``.
Each delivery times out after 5 s and is retried up to ``retries`` times, then dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

__all__ = ["WebhookEmitter", "encode_body", "sign"]


def sign(secret: str, timestamp: int, body: str) -> str:
    """The ``v1`` signature: hex HMAC-SHA256 keyed with the secret over ``"{t}.{body}"``."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def encode_body(events: list[dict[str, Any]]) -> str:
    return urlencode({"payload": json.dumps({"events": events}, separators=(",", ":"))})


@dataclass
class WebhookEmitter:
    """Delivers events from a background thread; records every attempt's outcome."""

    url: str
    secret: str = ""
    retries: int = 0
    timeout: float = 5.0
    retry_delay: float = 0.2
    delivered: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="centra-webhooks", daemon=True)
        self._thread.start()

    def emit(self, events: list[dict[str, Any]]) -> None:
        self._queue.put(events)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=self.timeout * (self.retries + 2))

    def deliver(self, events: list[dict[str, Any]], client: httpx.Client) -> bool:
        body = encode_body(events)
        for attempt in range(self.retries + 1):
            t = int(time.time())
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Centra-Signature": f"t={t},v1={sign(self.secret, t, body)}"}
            try:
                r = client.post(self.url, content=body, headers=headers, timeout=self.timeout)
                if 200 <= r.status_code < 300:
                    self.delivered.append({"events": events, "attempts": attempt + 1})
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(self.retry_delay * (attempt + 1))
        self.dropped.append({"events": events, "attempts": self.retries + 1})
        return False

    def _run(self) -> None:
        with httpx.Client() as client:
            while True:
                events = self._queue.get()
                if events is None:
                    return
                self.deliver(events, client)
