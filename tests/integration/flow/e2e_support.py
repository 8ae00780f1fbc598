"""What the end-to-end order-flow tests need beyond ``seamline_sandbox.harness``.

- :class:`Chaos`: a background thread that keeps injecting 429 bursts (short ``Retry-After``),
  commit-then-drop and commit-then-timeout faults on both sandboxes while Seamline runs.
- :func:`write_config`: the test's ``Settings`` as a TOML file (secrets left out: they go in the
  environment), so the real CLI can run against the test's store.
- :func:`run_cli` / :func:`start_worker_process`: the real ``seamline`` CLI as a subprocess.
- :func:`expected_exception_key`: the business key of the open exception that must hold an
  unpostable generated order.
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
from pathlib import Path
from typing import Any

from seamline.config import Settings
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import Sandboxes

__all__ = [
    "Chaos",
    "cli_env",
    "exception_keys_for",
    "key_matches",
    "run_cli",
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
    with log.open("wb") as fh:
        return subprocess.Popen(
            _cli_argv(config, ["worker", "--queues", queues, "--concurrency", str(concurrency)]),
            env=dict(env), stdout=fh, stderr=subprocess.STDOUT)


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
