"""What the CLI prints is true and as written: configuration section names in square brackets
survive ``--help`` and tables (Rich would read ``[web]`` as markup and drop it), and
``config check`` counts the schedules that will run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.text import Text
from typer.testing import CliRunner

from seamline.adapters.store import Database
from seamline.adapters.store.exceptions import raise_exception
from seamline.config import load_settings
from seamline.entrypoints.cli import build_app
from seamline.entrypoints.cli._state import out_console
from seamline.entrypoints.cli.config_cmd import summary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, wide enough that no help line wraps."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env.update(COLUMNS="250", TERMINAL_WIDTH="250")
    return subprocess.run([str(SEAMLINE), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(("command", "shown"), [
    (("worker",), ["[queues.concurrency]"]),
    (("run",), ["[queues.concurrency]", "[web].host", "[web].port"]),
    (("orders", "sync"), ["[centra].use_events_queue"]),
])
def test_help_shows_configuration_sections_in_square_brackets(
    tmp_path: Path, command: tuple[str, ...], shown: list[str],
) -> None:
    """`seamline <command> --help` names the configuration keys it defaults to, brackets and
    all."""
    proc = run(*command, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for text in shown:
        assert text in proc.stdout, proc.stdout


def _commands(cmd: Any, path: str = "seamline") -> Iterator[tuple[str, Any]]:
    """Every command under ``cmd`` (Typer builds them on its own copy of click: duck-typed)."""
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_every_help_text_renders_as_written() -> None:
    """Every command's and option's help (plugins included) reads the same once Typer has
    passed it through Rich markup: a bracket in help text is written escaped or not at all."""
    root = typer.main.get_command(build_app())
    seen = 0
    lost: list[str] = []
    for path, cmd in _commands(root):
        texts = {"help": cmd.help, "short_help": cmd.short_help, "epilog": cmd.epilog}
        texts |= {p.name or "?": getattr(p, "help", None) for p in cmd.params}
        for where, text in texts.items():
            if not text:
                continue
            seen += 1
            meant = text.replace("\\[", "[")
            if Text.from_markup(text).plain != meant:
                lost.append(f"{path} ({where}): {text!r}")
    assert seen > 30
    assert lost == []


def test_table_cells_keep_square_brackets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`seamline exceptions list` shows a hint such as "add a `[]` entry under
    [shipping_options]" as it is, and a trailing backslash stays single."""
    url = f"sqlite:///{tmp_path / 'seamline.db'}"
    monkeypatch.setenv("SEAMLINE_DATABASE_URL", url)
    monkeypatch.setenv("SEAMLINE_CONFIG", str(EXAMPLE))
    db = Database(url)
    db.upgrade()
    message = "no ship via for [pickup-point]; add a `[]` entry under [shipping_options]"
    with db.begin() as conn:
        raise_exception(conn, type="MAPPING_MISSING", owner="ecommerce",
                        business_key="shipping:[pickup-point]", message=message)
        raise_exception(conn, type="MAPPING_MISSING", owner="ecommerce",
                        business_key="path", message="under C:\\")
    db.dispose()
    # The CLI's console is created once per process: another test may have fixed its width.
    monkeypatch.setattr(out_console, "_width", 300)
    result = CliRunner().invoke(build_app(plugins=False), ["exceptions", "list"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert message in result.output
    assert "shipping:[pickup-point]" in result.output
    assert "under C:\\ " in result.output
    assert "C:\\\\" not in result.output


def test_config_check_counts_the_built_in_schedules(tmp_path: Path) -> None:
    """The example configures no [schedules], yet the built-in schedules run (orders, Centra's
    schema, health, shipments, drift, the missing-in-ERP watchdog, the Centra budget's watch,
    stock, payments, reconciliation); config check says so and names them."""
    proc = run("--config", str(EXAMPLE), "config", "check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ("schedules   15 will run: orders-poll every 5 min, orders-batch every 1 min, "
            "orders-sweep every 1 d, catalogue-sync every 1 h, centra-schema every 15 min, "
            "health-ping every 1 min, shipments-sync every 5 min, shipments-watchdog every "
            "30 min, drift-scan every 5 min, missing-in-erp every 5 min, centra-budget every "
            "1 min, stock-delta every 1 min, stock-full every 1 d, payments-batch every 1 min, "
            "reconcile-daily every 1 min") in proc.stdout
    assert ("payments    daily batch at 06:00 in each market's time zone, per capture; 3 "
            "payment method(s) mapped, else CARD") in proc.stdout


def test_config_check_counts_configured_and_optional_schedules() -> None:
    """A configured schedule adds to the built-in ones (or replaces one of the same name), and
    the events queue adds its own schedule when switched on."""
    settings = load_settings(EXAMPLE, env={}, overrides={
        "centra": {"use_events_queue": True},
        "schedules": {"orders-poll": {"task": "orders.poll", "every_s": 120},
                      "nightly-report": {"task": "reports.daily", "every_s": 86400}},
    })
    line = next(x for x in summary(settings) if x.startswith("schedules"))
    assert line.startswith("schedules   17 will run: ")
    assert "orders-poll every 2 min (configured)" in line
    assert "centra-events every 1 min" in line
    assert "nightly-report every 1 d (configured)" in line


def test_config_check_adds_the_alerts_schedule_only_when_a_route_is_configured() -> None:
    """With a route under [alerts.routes] the alerts schedule runs (one more), every
    [alerts].interval_s; the routes are listed by kind, never by URL."""
    settings = load_settings(EXAMPLE, env={}, overrides={
        "alerts": {"routes": {"finance": ["mailto://u:pw-123456@smtp.example.com"]},
                   "interval_s": 120}})
    lines = summary(settings)
    line = next(x for x in lines if x.startswith("schedules"))
    assert line.startswith("schedules   16 will run: ")
    assert line.endswith(", alerts every 2 min")
    assert "alerts      1 route(s): finance → mailto" in lines
    assert not any("pw-123456" in x for x in lines)
