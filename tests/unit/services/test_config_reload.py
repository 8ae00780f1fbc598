"""The configuration reloader on the in-memory unit of work: a changed file is validated,
applied and re-queues what it unblocks; a broken one is refused with CONFIG_INVALID; the
store's generation makes every process re-read its file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seamline.config import Settings, load_settings
from seamline.services.config_reload import (
    GENERATION_CURSOR,
    ConfigReloader,
    announce,
    invalid_key,
    restart_needed,
)
from seamline.services.unit_of_work import UnitOfWork
from seamline.testing.store import InMemoryStore

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
BASE = """
[shipping_options]
"se-standard" = "PNORD"
"""


class Probe:
    """Records what the reloader applied and how often it re-queued."""

    def __init__(self) -> None:
        self.applied: list[Settings] = []
        self.requeues = 0

    def apply(self, settings: Settings) -> None:
        self.applied.append(settings)

    def requeue(self, uow: UnitOfWork) -> int:
        self.requeues += 1
        return 3


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, InMemoryStore, Probe, ConfigReloader]:
    path = tmp_path / "seamline.toml"
    path.write_text(BASE, encoding="utf-8")
    store = InMemoryStore(clock=lambda: NOW)
    probe = Probe()
    reloader = ConfigReloader(
        path=path, store=store, current=load_settings(path, env={}),
        load=lambda p: load_settings(p, env={}), apply=probe.apply, requeue=probe.requeue,
        clock=lambda: NOW)
    return path, store, probe, reloader


def _open(store: InMemoryStore, type_: str) -> list[dict[str, Any]]:
    return [e for e in store.state.exceptions.values()
            if e["type"] == type_ and e["state"] == "open"]


def test_an_unchanged_file_is_not_read_again(setup: tuple) -> None:
    """Nothing changed: no reload, nothing applied, nothing re-queued."""
    _, _, probe, reloader = setup
    assert reloader.check() is None
    assert reloader.check() is None
    assert (probe.applied, probe.requeues) == ([], 0)


def test_an_edited_file_is_applied_and_re_queues_what_it_unblocks(setup: tuple) -> None:
    """A new mapping in the file: the new settings are applied, the parked orders re-queued,
    and an audit line says so."""
    path, store, probe, reloader = setup
    path.write_text(BASE + '"jp-standard" = "YAMT"\n', encoding="utf-8")
    done = reloader.check()
    assert done is not None
    assert (done.applied, done.requeued, done.cause, done.restart_needed) == (
        True, 3, "file", ())
    assert probe.applied[-1].shipping_options == {"se-standard": "PNORD", "jp-standard": "YAMT"}
    assert reloader.check() is None  # seen once
    (line,) = [a for a in store.state.audit if a["action"] == "reloaded"]
    assert line["detail"]["requeued"] == 3


def test_a_broken_file_is_refused_and_the_running_configuration_kept(setup: tuple) -> None:
    """A broken file applies nothing and opens one CONFIG_INVALID naming the key path; it is
    not raised again until the file changes; a valid file resolves it."""
    path, store, probe, reloader = setup
    path.write_text(BASE + '[orders]\nmax_attempts = "many"\n', encoding="utf-8")
    done = reloader.check()
    assert done is not None
    assert not done.applied
    assert any("orders.max_attempts" in p for p in done.problems)
    assert probe.applied == []
    (invalid,) = _open(store, "CONFIG_INVALID")
    assert (invalid["owner"], invalid["business_key"]) == ("integrator", invalid_key(path))
    assert "orders.max_attempts" in invalid["message"]
    assert reloader.check() is None
    path.write_text(BASE, encoding="utf-8")
    fixed = reloader.check()
    assert fixed is not None
    assert fixed.applied
    assert _open(store, "CONFIG_INVALID") == []


def test_a_new_generation_in_the_store_makes_every_process_re_read_its_file(
        setup: tuple) -> None:
    """``config reload`` (another host, say) bumps the generation: the file is re-read even
    though its content is the same, and the re-queue runs again."""
    path, store, probe, reloader = setup
    assert reloader.check() is None  # the generation as it was at start
    generation, requeued = announce(store, path, requeue=probe.requeue, now=NOW,
                                    actor="cli:test")
    assert requeued == 3
    with store.read() as uow:
        assert uow.cursors.get(GENERATION_CURSOR) == generation
    done = reloader.check()
    assert done is not None
    assert (done.applied, done.cause) == (True, "generation")
    assert probe.requeues == 2
    assert reloader.check() is None


def test_what_needs_a_restart_is_named() -> None:
    """The keys a running process cannot swap are listed; mappings are not among them."""
    old = Settings()
    new = Settings.model_validate({
        "orders": {"poll_interval_min": 2}, "shipping_options": {"x": "Y"},
        "queues": {"lease_s": 90}})
    assert restart_needed(old, new) == ["queues", "orders.poll_interval_min"]
