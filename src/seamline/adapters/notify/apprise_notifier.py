"""``AppriseNotifier``: one notification to one apprise URL, its secrets kept out of every
message.

An apprise URL carries its credentials (``mailto://user:password@host``,
``slack://TokenA/TokenB/TokenC``, ``msteams://…/webhook-secret``), so the URL as configured is
never stored, logged or raised: :func:`redact_url` is what the store and the CLI see (apprise's
own privacy form, which masks passwords and tokens), and any failure text has every part of
the URL that could be secret masked before it leaves this module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from seamline.exceptions import AlertNotDelivered
from seamline.logging import MASK, register_secret

__all__ = ["AppriseNotifier", "redact_url", "url_secrets"]

_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://")


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that may be secret: the whole URL, its password, and every path
    segment and query value of 6 characters or more (webhook tokens live there)."""
    found = [url]
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    if parts.password:
        found.append(unquote(parts.password))
    found += [unquote(seg) for seg in parts.path.split("/") if len(seg) >= 6]
    found += [v for _, v in parse_qsl(parts.query) if len(v) >= 6 and "@" not in v]
    if parts.username and len(parts.username) >= 16:
        found.append(unquote(parts.username))  # a token given as the user part
    return sorted(set(found), key=len, reverse=True)


def redact_url(url: str) -> str:
    """The URL as apprise prints it in privacy mode; a URL apprise does not know: its scheme
    and host only."""
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is not None:
        shown = str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]
        # Apprise masks what its plugin knows to be secret; a generic webhook's path
        # (``json://host/hook/<token>``) it shows: mask what could be a token there too.
        for secret in url_secrets(url)[1:]:
            shown = shown.replace(secret, MASK)
        return shown
    m = _SCHEME.match(url)
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return f"{m.group('scheme') if m else '?'}://{host}/{MASK}"


def _scrub(text: str, url: str) -> str:
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return text


class AppriseNotifier:
    """Sends through apprise; a refusal becomes ``AlertNotDelivered`` (retried by the queue)."""

    def __init__(self, *, routes: Iterable[str] = ()) -> None:
        # Every configured route's secrets are masked in every log line from now on, whoever
        # writes it (apprise's own logging included), before any is used.
        for url in routes:
            for secret in url_secrets(url):
                register_secret(secret)

    def describe(self, url: str) -> str:
        return redact_url(url)

    def send(self, url: str, title: str, body: str) -> None:
        for secret in url_secrets(url):
            register_secret(secret)  # and out of every log line, whoever writes it
        shown = redact_url(url)
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            raise AlertNotDelivered(f"{shown}: not a URL apprise can send to", permanent=True)
        sender = apprise.Apprise()
        sender.add(plugin)
        capture = apprise.LogCapture(  # type: ignore[no-untyped-call]
            level=logging.WARNING, fmt="%(message)s")
        with capture as captured:
            try:
                ok = bool(sender.notify(body=body, title=title,
                                        body_format=apprise.NotifyFormat.TEXT))
            except Exception as exc:
                ok = False
                captured.write(f"{type(exc).__name__}: {exc}\n")
            why = captured.getvalue().strip()
        if not ok:
            reason = _scrub(why.splitlines()[-1] if why else "refused", url)
            raise AlertNotDelivered(f"{shown}: {reason}")
