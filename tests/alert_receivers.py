"""Local stand-ins for alert routes: an SMTP server (aiosmtpd) for ``mailto://`` and an HTTP
webhook receiver for apprise's ``json://`` (Slack and Teams webhooks are JSON posts too), both
on 127.0.0.1, recording what they receive."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["Mail", "SmtpSink", "WebhookSink", "wait_for"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], *, timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str


@dataclass
class _Handler:
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        self.mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos),
                               str(msg["subject"]), str(body)))
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on 127.0.0.1 keeping every mail it is given."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def mails(self) -> list[Mail]:
        return list(self.handler.mails)

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=seamline@example.com&to={to}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass(frozen=True)
class Post:
    path: str
    body: dict[str, Any]


class WebhookSink:
    """An HTTP server on 127.0.0.1 recording JSON posts by path; ``refuse[path] = n`` answers
    the next ``n`` posts there with 500."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.refuse: dict[str, int] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with sink.lock:
                    left = sink.refuse.get(self.path, 0)
                    if left > 0:
                        sink.refuse[self.path] = left - 1
                    else:
                        sink.posts.append(Post(self.path, json.loads(raw or b"{}")))
                self.send_response(500 if left > 0 else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.path == path]

    def __enter__(self) -> WebhookSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
