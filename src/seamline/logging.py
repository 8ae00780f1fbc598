"""Structured logging for every Seamline process.

``configure_logging()`` sets up structlog once per process: JSON lines when stderr is not a
terminal (containers, systemd, CI), a readable console renderer when it is. Every event carries
the job id, business key and attempt bound with :func:`job_context` (the worker binds them around
each job, so any log line written while the job runs names it), and passes through
:func:`redact`, which masks secrets by key name, by value (every secret the settings hold is
registered) and inside URLs (``postgresql://user:pass@host``).

Standard-library loggers (uvicorn, alembic, httpx) go through the same renderer and redaction.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from pydantic import SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from seamline.redaction import is_secret_key

__all__ = [
    "MASK",
    "configure_logging",
    "get_logger",
    "job_context",
    "redact",
    "redact_text",
    "register_secret",
    "register_secrets_from",
]

MASK = "**********"

#: ``scheme://user:password@host`` → the password is masked.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)@")
#: ``Bearer abc...`` in a free-text message.
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)(?P<val>[A-Za-z0-9._~+/=\-]{6,})")

_known_secrets: set[str] = set()


def register_secret(value: str | SecretStr | None) -> None:
    """Mask this exact value wherever it appears in a log line (ignored under 4 chars)."""
    if value is None:
        return
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if len(raw) >= 4:
        _known_secrets.add(raw)


def register_secrets_from(obj: Any) -> None:
    """Register every ``SecretStr`` found in a pydantic model (e.g. the ``Settings``)."""
    if isinstance(obj, SecretStr):
        register_secret(obj)
        return
    fields = getattr(type(obj), "model_fields", None)
    if fields is not None:
        for name in fields:
            register_secrets_from(getattr(obj, name, None))
    elif isinstance(obj, Mapping):
        for v in obj.values():
            register_secrets_from(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            register_secrets_from(v)


def redact_text(text: str) -> str:
    """Mask registered secret values, URL passwords and bearer tokens inside free text."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group('head')}{MASK}", text)


def _redact_value(key: str | None, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if key is not None and is_secret_key(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(None, v) for v in value]
    return value


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets by key name, by registered value and inside URLs."""
    for key in list(event_dict):
        if key == "exc_info":
            continue
        event_dict[key] = _redact_value(None if key == "event" else key, event_dict[key])
    return event_dict


def _redact_rendered(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Tracebacks are rendered into "exception" by format_exc_info; mask them too.
    exc = event_dict.get("exception")
    if isinstance(exc, str):
        event_dict["exception"] = redact_text(exc)
    return event_dict


@contextmanager
def job_context(
    *, job_id: int | str | None = None, business_key: str | None = None,
    attempt: int | None = None, **extra: Any,
) -> Iterator[None]:
    """Bind job_id / business_key / attempt (and any extra keys) to every log line in the block."""
    values = {"job_id": job_id, "business_key": business_key, "attempt": attempt, **extra}
    with structlog.contextvars.bound_contextvars(
        **{k: v for k, v in values.items() if v is not None}
    ):
        yield


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]


def configure_logging(
    level: str | int | None = None, *, json: bool | None = None, stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's root logger for this process.

    ``json=None`` chooses by the stream: JSON unless it is a terminal. The level defaults to
    ``$SEAMLINE_LOG_LEVEL`` or ``INFO``.
    """
    stream = stream or sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    if level is None:
        level = os.environ.get("SEAMLINE_LOG_LEVEL", "INFO").upper()
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.INFO

    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer(default=str)
        final: list[Processor] = [
            structlog.processors.format_exc_info, _redact_rendered, renderer,
        ]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=stream.isatty())]

    shared = _shared_processors()
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_seamline", False):
            root.removeHandler(old)
    handler._seamline = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(numeric)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A bound structlog logger (configure_logging() decides how it renders)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger

