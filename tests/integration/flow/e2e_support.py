"""What the end-to-end order-flow tests need beyond ``seamline_sandbox.harness``.

- :class:`Chaos`: a background thread that keeps injecting 429 bursts (short ``Retry-After``),
  commit-then-drop and commit-then-timeout faults on both sandboxes while Seamline runs.
- :func:`write_config`: the test's ``Settings`` as a TOML file (secrets left out: they go in the
  environment), so the real CLI can run against the test's store.
- :func:`run_cli` / :func:`start_worker_process`: the real ``seamline`` CLI as a subprocess.
- :func:`expected_exception_key`: the business key of the open exception that must hold an
  unpostable generated order.
- Store invariants (issue 17): every parked order is held by an open exception of its type and
  every order an open exception holds is parked; no order placed before a closed day's
  cut-off waits for a later day.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from seamline.adapters.store.repos import get_cursor, open_holds
from seamline.adapters.store.schema import exceptions, ledger
from seamline.bootstrap import Container
from seamline.config import Settings
from seamline.domain.batch import business_day, cutoff_instant
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import Sandboxes

__all__ = [
    "Chaos",
    "assert_no_order_waits_for_a_later_day",
    "assert_parked_orders_are_held_and_held_orders_parked",
    "cli_env",
    "exception_keys_for",
    "key_matches",
    "run_cli",
    "start_process",
    "start_worker_process",
    "stop_process",
    "write_config",
]


class Chaos:
    """Queued faults on top of the random ones, while Seamline runs.

    Every ``centra_every_s`` (when the earlier ones have all fired): a burst of ``burst`` 429s
    with ``Retry-After: 1`` (fewer than the Centra client's 4 in-process attempts, so a burst
    alone delays a call rather than failing it), a commit-then-drop of a mutation and a
    commit-then-timeout of a mutation (applied after the client's timeout ran out). Every
    ``bluecherry_every_s``: a burst of 429s and a commit-then-drop of a create (the order is
    stored, the connection dropped at once). Centra's are rarer: once the posting is done the
    single write-back job is Centra's only caller and would otherwise take every burst.
    """

    def __init__(self, sb: Sandboxes, *, centra_every_s: float = 10.0,
                 bluecherry_every_s: float = 2.0, burst: int = 3,
                 client_timeout_s: float = 1.0) -> None:
        self.sb = sb
        self.centra_every_s = centra_every_s
        self.bluecherry_every_s = bluecherry_every_s
        self.burst = burst
        self.client_timeout_s = client_timeout_s
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)

    def _centra(self) -> None:
        sb = self.sb
        # Queued faults wait for a matching call: never pile up more than one round's worth.
        if sb.centra.faults.pending() == 0:
            sb.centra_fault("429", self.burst, retry_after=1.0)
            sb.centra_fault("commit_then_drop", 1, match="mutation:*")
            sb.centra_fault("latency", 1, match="mutation:*",
                            delay_s=self.client_timeout_s + 0.5)

    def _bluecherry(self) -> None:
        sb = self.sb
        if sb.bluecherry.faults.pending() == 0:
            sb.bluecherry_fault("429", self.burst, retry_after=1.0)
            sb.bluecherry_fault("commit_then_drop", 1, match="create_order", delay_s=0.001)

    def _run(self) -> None:
        started = time.monotonic()
        next_c = started + self.centra_every_s
        next_b = started + self.bluecherry_every_s
        while not self._stop.wait(0.25):
            now = time.monotonic()
            if now >= next_c:
                self._centra()
                next_c = now + self.centra_every_s
            if now >= next_b:
                self._bluecherry()
                next_b = now + self.bluecherry_every_s
                self.rounds += 1

    def __enter__(self) -> Chaos:
        self._centra()
        self._bluecherry()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# -- configuration file and CLI --------------------------------------------------------------

_SECRET_KEYS = {("centra", "token"), ("centra", "webhook_secret"), ("bluecherry", "api_key")}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_config(path: Path, settings: Settings) -> Path:
    """``settings`` as a TOML file (no secrets: see :func:`cli_env`)."""
    data = settings.model_dump(mode="json")
    out: list[str] = []
    for section, body in data.items():
        if isinstance(body, list):
            for entry in body:
                out.append(f"[[{section}]]")
                out.extend(f"{k} = {_toml_value(v)}" for k, v in entry.items() if v is not None)
            continue
        out.append(f"[{section}]")
        for key, value in body.items():
            if value is None or (section, key) in _SECRET_KEYS:
                continue
            out.append(f"{json.dumps(key)} = {_toml_value(value)}")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def cli_env(sb: Sandboxes) -> dict[str, str]:
    """The process environment for the CLI: the sandboxes' credentials as Seamline reads them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env.update({"SEAMLINE_CENTRA_TOKEN": sb.centra_token,
                "SEAMLINE_BLUECHERRY_API_KEY": sb.bluecherry_key,
                "SEAMLINE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    return env


def _cli_argv(config: Path, args: Sequence[str]) -> list[str]:
    script = Path(sys.executable).with_name("seamline")
    head = [str(script)] if script.exists() else [
        sys.executable, "-c", "from seamline.entrypoints.cli import main; main()"]
    return [*head, "--config", str(config), *args]


def run_cli(config: Path, env: Mapping[str, str], *args: str, timeout: float = 60) -> Any:
    """Run ``seamline --config CONFIG ARGS...``; parse stdout as JSON (exit 0 required)."""
    proc = subprocess.run(_cli_argv(config, args), env=dict(env), capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"seamline {' '.join(args)} exited {proc.returncode}: "
                             f"{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def start_worker_process(config: Path, env: Mapping[str, str], *, queues: str,
                         concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    """A second worker process: ``seamline worker --queues Q --concurrency N``."""
    return start_process(config, env, ["worker", "--queues", queues,
                                       "--concurrency", str(concurrency)], log=log)


def start_process(config: Path, env: Mapping[str, str], args: Sequence[str], *,
                  log: Path) -> subprocess.Popen[bytes]:
    """``seamline --config CONFIG ARGS...`` in the background, its output appended to ``log``."""
    with log.open("ab") as fh:
        return subprocess.Popen(_cli_argv(config, args), env=dict(env), stdout=fh,
                                stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM (the worker finishes or releases its jobs), then wait; kill only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return int(proc.returncode)


# -- expectations ----------------------------------------------------------------------------


def exception_keys_for(g: GeneratedOrder) -> list[tuple[str, str]]:
    """(type, business-key prefix) of every open exception that must hold ``g``.

    One exception per missing mapping (``mapping:market:6/NOK``,
    ``mapping:shipping_option:pickup-point``), per unknown SKU (``sku:<sku>``), and one per
    order for totals (``order:<n>:totals``).
    """
    assert g.expected_exception is not None
    if g.expected_exception == "TOTAL_MISMATCH":
        return [("TOTAL_MISMATCH", f"order:{g.number}:totals")]
    if g.expected_exception == "UNKNOWN_SKU":
        return [("UNKNOWN_SKU", m) for m in g.expected_missing]
    return [("MAPPING_MISSING", f"mapping:{m}") for m in g.expected_missing]


def key_matches(business_key: str, prefix: str) -> bool:
    """``mapping:market:6`` matches ``mapping:market:6/NOK``; other keys match exactly."""
    return business_key == prefix or business_key.startswith(prefix + "/")


# -- store invariants ------------------------------------------------------------------------


def _park_type(park: str) -> str:
    if park.startswith("mapping:"):
        return "MAPPING_MISSING"
    if park.startswith("sku:"):
        return "UNKNOWN_SKU"
    return "TOTAL_MISMATCH"


def assert_parked_orders_are_held_and_held_orders_parked(container: Container) -> None:
    """Every ledger row ``parked`` is held (exception–order relation) by an open exception of
    its type for each cause it names (a row parked by a 422, naming none, has an open exception
    for its order); every order an open exception holds is ``parked``."""
    with container.db.read() as conn:
        parked = {str(k): d for k, d in conn.execute(
            sa.select(ledger.c.business_key, ledger.c.data)
            .where(ledger.c.kind == "order", ledger.c.state == "parked"))}
        holds = open_holds(conn)
        open_keys = {str(k) for k in conn.execute(
            sa.select(exceptions.c.business_key).where(exceptions.c.state == "open")).scalars()}
    held = {(h.order_key, h.type, h.business_key) for h in holds}
    unheld = []
    for key, data in parked.items():
        parks = [str(p) for p in data.get("parks", [])]
        if not parks:
            if not any(k == f"order:{key}" or k.startswith(f"order:{key}:") for k in open_keys):
                unheld.append((key, "no cause and no open exception"))
            continue
        unheld.extend((key, p) for p in parks if (key, _park_type(p), p) not in held)
    assert unheld == [], f"parked orders no open exception holds: {unheld[:20]}"
    not_parked = sorted({h.order_key for h in holds} - set(parked))
    assert not_parked == [], f"orders held by an open exception but not parked: {not_parked[:20]}"


def assert_no_order_waits_for_a_later_day(container: Container) -> None:
    """For every daily market: no order is filed under a business day other than the one its
    eligibility time gives, and none eligible before the cut-off of the last closed day still
    waits for a batch."""
    markets = [m for m in container.orders.markets if m.mode == "daily"]
    with container.db.read() as conn:
        rows = conn.execute(sa.select(ledger.c.business_key, ledger.c.state, ledger.c.data)
                            .where(ledger.c.kind == "order")).all()
        closed = {m: get_cursor(conn, f"batch:{m.centra_market}/{m.currency or '*'}")
                  for m in markets}
    wrong_day, waiting = [], []
    for key, state, data in rows:
        snap = data.get("snapshot") or {}
        market = next((m for m in markets
                       if m.covers(int(snap.get("market_id", 0)), str(snap.get("currency", "")))),
                      None)
        if market is None or not data.get("eligible_at") or not data.get("business_day"):
            continue
        day = business_day(datetime.fromisoformat(data["eligible_at"]), market)
        if data["business_day"] != day.isoformat():
            wrong_day.append((key, data["eligible_at"], data["business_day"]))
        last = closed[market]
        if state == "batch" and last and datetime.fromisoformat(data["eligible_at"]) < \
                cutoff_instant(date.fromisoformat(last), market):
            waiting.append((key, data["business_day"], last))
    assert wrong_day == [], f"orders filed under another business day: {wrong_day[:20]}"
    assert waiting == [], f"orders of a closed day waiting for a later batch: {waiting[:20]}"
