"""Configuration changes without a restart.

Design (several worker processes on one PostgreSQL, on one host or many):

- Every long-running process (``seamline run``, ``worker``, ``scheduler``) runs a
  :class:`ConfigReloader` every poll interval. It re-reads the configuration file when the
  file's content changed (a SHA-256 of its bytes; the modification time alone misses an edit
  within the same second) **or** when the store's configuration generation changed (the cursor
  ``config.generation``, which ``seamline config reload`` bumps: processes on other hosts, or a
  change the file's digest does not show, such as a secrets file, are told through the database
  every process already shares; no signal has to reach a process on another machine).
- A new file is validated before anything changes. A broken one is refused: the process keeps
  the configuration it runs with, and one ``CONFIG_INVALID`` exception for the integrator
  (business key ``config:<path>``) names every problem with its key path. It resolves itself
  when a valid file is loaded.
- A valid file replaces the settings the flows are built from (mappings, markets, SKU
  overrides, stock buffers, shipment settings: the next job uses them), then, in one unit of
  work, re-queues the orders parked on a mapping or SKU that now exists (their exceptions
  resolve when the orders post) and resolves ``CONFIG_INVALID``. Every process that reloads
  does this; the re-queue is deduped (one waiting post job per order), so N processes queue
  each order once.
- What a running process cannot swap (``[store]``, the systems' addresses and credentials,
  ``[queues]``, ``[schedules]`` and the built-in schedules' intervals, ``[web]``) is named in the
  log and the audit line as needing a restart; the rest of the new file is applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from seamline.clock import utcnow
from seamline.exceptions import ConfigError
from seamline.services.unit_of_work import Store, UnitOfWork

__all__ = [
    "GENERATION_CURSOR",
    "RESTART_SECTIONS",
    "ConfigReloader",
    "Reload",
    "announce",
    "file_digest",
    "invalid_key",
    "publish_generation",
    "record_invalid",
    "restart_needed",
]

#: The store's configuration generation: bumped by ``seamline config reload``.
GENERATION_CURSOR = "config.generation"
#: Sections and keys a running process keeps until it is restarted: the database, the
#: clients, the queue and its retry policy, the scheduler's intervals, the web server.
RESTART_SECTIONS = ("store", "centra", "bluecherry", "queues", "schedules", "web",
                    "orders.poll_interval_min", "orders.max_attempts", "stock.enabled",
                    "stock.delta_interval_s", "stock.full_interval_min",
                    "shipments.sync_interval_min", "shipments.watchdog_interval_min")


def file_digest(path: Path) -> str | None:
    """SHA-256 of the file's bytes (None when there is no file)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def invalid_key(path: Path) -> str:
    """The business key of the file's ``CONFIG_INVALID`` exception."""
    return f"config:{path.resolve()}"


def _at(settings: Any, dotted: str) -> Any:
    value = settings
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def restart_needed(old: Any, new: Any) -> list[str]:
    """The sections and keys that differ between two settings and need a restart to apply."""
    return [name for name in RESTART_SECTIONS if _at(old, name) != _at(new, name)]


def record_invalid(uow: UnitOfWork, path: Path, exc: ConfigError, *, now: datetime) -> int:
    """Open (or count) the file's ``CONFIG_INVALID`` exception, every problem named."""
    problems = exc.problems or [exc.message]
    return uow.exceptions.raise_(
        type="CONFIG_INVALID", owner="integrator", business_key=invalid_key(path),
        message=(f"the configuration file {path} is not valid; the running configuration is "
                 f"kept until it is fixed: {'; '.join(problems)}"),
        details={"path": str(path), "problems": list(problems)}, now=now)


def publish_generation(uow: UnitOfWork, digest: str | None, *, now: datetime) -> str:
    """Bump the store's configuration generation (every process re-reads its file)."""
    generation = f"{now.isoformat()}#{(digest or 'none')[:16]}"
    uow.cursors.set(GENERATION_CURSOR, generation, now=now)
    return generation


def announce(store: Store, path: Path, *, requeue: Callable[[UnitOfWork], int],
             now: datetime, actor: str) -> tuple[str, int]:
    """``seamline config reload`` after the file was validated: in one unit of work, re-queue
    what the file unblocks, resolve the file's ``CONFIG_INVALID``, and bump the store's
    configuration generation so every running process re-reads its file within its next poll.
    Returns the new generation and how many orders were re-queued."""
    digest = file_digest(path)
    with store.begin() as uow:
        requeued = requeue(uow)
        uow.exceptions.resolve_for_key(invalid_key(path), types=("CONFIG_INVALID",),
                                       actor=actor, note="a valid configuration file was "
                                       "loaded", now=now)
        generation = publish_generation(uow, digest, now=now)
        uow.audit.append("config", str(path), "reload requested", actor,
                         {"digest": digest, "generation": generation, "requeued": requeued},
                         now=now)
    return generation, requeued


@dataclass(frozen=True, slots=True)
class Reload:
    """What one reload did."""

    path: str
    applied: bool
    #: Orders re-queued because what they waited for now exists.
    requeued: int = 0
    #: The problems of a refused file.
    problems: tuple[str, ...] = ()
    restart_needed: tuple[str, ...] = ()
    #: Why it ran: the file changed, or the store's generation did.
    cause: str = "file"


@dataclass
class ConfigReloader:
    """Re-read the configuration when its file or the store's generation changes."""

    path: Path
    store: Store
    current: Any
    #: Reads and validates the file (``ConfigError`` listing every problem).
    load: Callable[[Path], Any]
    #: Makes the new settings the ones the flows are built from.
    apply: Callable[[Any], None]
    #: Re-queues, in the unit of work, what the new settings unblock; how many.
    requeue: Callable[[UnitOfWork], int]
    clock: Callable[[], datetime] = utcnow
    actor: str = "system:config"
    digest: str | None = field(default=None)
    _generation: str | None = field(default=None, repr=False)
    _started: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.digest is None:
            self.digest = file_digest(self.path)

    def check(self) -> Reload | None:
        """One look (each poll interval): reload when something changed, else None."""
        digest = file_digest(self.path)
        with self.store.read() as uow:
            generation = uow.cursors.get(GENERATION_CURSOR)
        if not self._started:
            self._started, self._generation = True, generation
        moved = generation != self._generation
        self._generation = generation
        if digest == self.digest and not moved:
            return None
        return self.reload(digest, cause="file" if digest != self.digest else "generation")

    def reload(self, digest: str | None = None, *, cause: str = "file") -> Reload:
        """Validate the file; apply it and re-queue what it unblocks, or keep the running
        configuration and raise ``CONFIG_INVALID``."""
        self.digest = digest if digest is not None else file_digest(self.path)
        now = self.clock()
        try:
            new = self.load(self.path)
        except ConfigError as exc:
            with self.store.begin() as uow:
                record_invalid(uow, self.path, exc, now=now)
            return Reload(str(self.path), applied=False, cause=cause,
                          problems=tuple(exc.problems or [exc.message]))
        restart = tuple(restart_needed(self.current, new))
        self.apply(new)
        self.current = new
        with self.store.begin() as uow:
            requeued = self.requeue(uow)
            uow.exceptions.resolve_for_key(
                invalid_key(self.path), types=("CONFIG_INVALID",), actor=self.actor,
                note="a valid configuration file was loaded", now=now)
            uow.audit.append("config", str(self.path), "reloaded", self.actor,
                             {"digest": self.digest, "cause": cause, "requeued": requeued,
                              "restart_needed": list(restart)}, now=now)
        return Reload(str(self.path), applied=True, requeued=requeued, cause=cause,
                      restart_needed=restart)
