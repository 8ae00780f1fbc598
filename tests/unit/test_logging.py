"""Structured logs: JSON off a terminal, job context on every line, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from seamline.config import load_settings
from seamline.logging import (
    MASK,
    configure_logging,
    get_logger,
    job_context,
    redact_text,
    register_secrets_from,
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("INFO", json=None, stream=buf)
    yield buf
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_seamline", False):
            root.removeHandler(h)
    structlog.reset_defaults()


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in buf.getvalue().splitlines() if ln.strip()]


def test_logs_are_json_lines_when_the_stream_is_not_a_terminal(stream: io.StringIO) -> None:
    """A StringIO is not a TTY, so each event is one JSON object with level and timestamp."""
    get_logger("t").info("posted", order="1001")
    (line,) = _lines(stream)
    assert line["event"] == "posted"
    assert line["order"] == "1001"
    assert line["level"] == "info"
    assert "timestamp" in line


def test_every_line_in_a_job_context_carries_job_id_business_key_and_attempt(
    stream: io.StringIO,
) -> None:
    """job_context binds the three keys for the block and drops them after."""
    log = get_logger("t")
    with job_context(job_id=42, business_key="centra:1:1001", attempt=3):
        log.info("inside")
        logging.getLogger("stdlib").warning("from the standard library")
    log.info("outside")
    inside, stdlib, outside = _lines(stream)
    for line in (inside, stdlib):
        assert (line["job_id"], line["business_key"], line["attempt"]) == (42, "centra:1:1001", 3)
    assert "job_id" not in outside


def test_secrets_are_masked_by_key_by_value_and_inside_urls(stream: io.StringIO) -> None:
    """Whatever way a secret reaches a log call, the line shows the mask instead."""
    register_secrets_from(load_settings(
        None, env={"SEAMLINE_CENTRA_TOKEN": "ctok-1234567890"},
        overrides={"store": {"database_url": "sqlite://"}},
    ))
    log = get_logger("t")
    log.info("calling centra with ctok-1234567890", api_key="plain-key-value",
             headers={"Authorization": "Bearer abcdefghijkl"},
             url="postgresql+psycopg://seamline:pw-in-url@db/seamline",
             token=SecretStr("another"))
    raw = stream.getvalue()
    for secret in ("ctok-1234567890", "plain-key-value", "abcdefghijkl", "pw-in-url", "another"):
        assert secret not in raw
    (line,) = _lines(stream)
    assert line["api_key"] == MASK
    assert line["headers"] == {"Authorization": MASK}
    assert line["url"] == f"postgresql+psycopg://seamline:{MASK}@db/seamline"


def test_tracebacks_in_logs_are_masked_too(stream: io.StringIO) -> None:
    """An exception message that embeds a registered secret is masked in the rendered trace."""
    register_secrets_from(SecretStr("exc-secret-99"))
    try:
        raise RuntimeError("failed with exc-secret-99")
    except RuntimeError:
        get_logger("t").exception("boom")
    assert "exc-secret-99" not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_free_text_redaction_leaves_ordinary_text_alone() -> None:
    """Only secret-shaped parts change."""
    assert redact_text("order 1001 posted to W01") == "order 1001 posted to W01"
    assert redact_text("Bearer sk_live_abcdef") == f"Bearer {MASK}"
