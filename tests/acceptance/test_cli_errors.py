"""The real ``seamline`` console script, run as a subprocess: bad input gives one actionable
line and the right exit code, never a traceback; secrets never reach the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with a clean SEAMLINE_* environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    base.update(env or {})
    base.setdefault("COLUMNS", "200")
    return subprocess.run([str(SEAMLINE), *args], cwd=cwd, env=base, capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


def test_the_console_script_is_installed() -> None:
    """The tests drive the same `seamline` a user runs."""
    assert SEAMLINE.exists(), f"{SEAMLINE} missing: pip install -e ."


def test_the_example_configuration_passes_config_check(tmp_path: Path) -> None:
    """`seamline --config examples/seamline.toml config check` says OK with a summary."""
    proc = run("--config", str(EXAMPLE), "config", "check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "configuration OK" in proc.stdout
    assert "5 mapped: 3 realtime, 2 daily" in proc.stdout
    assert_no_traceback(proc)


def test_a_broken_config_prints_every_problem_with_its_key_path_and_exits_2(
    tmp_path: Path,
) -> None:
    """Each problem on its own line, naming where it is and what to do."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[centra]\ntoken = "do-not-print-me"\n'
        '[[markets]]\ncentra_market = 1\ndivision = "D01"\nwarehouse = "W01"\n'
        'customer = "C"\nstore = "S"\norder_type = "ECOM"\nterms = "PREPAID"\n'
        'season = "FW26"\ncutoff = "25:00"\n',
        encoding="utf-8",
    )
    proc = run("--config", str(bad), "config", "check", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert "3 problem(s)" in lines[0]
    assert any("markets[0].prices_include_tax:" in ln and "VAT" in ln for ln in lines[1:])
    assert any("centra.token:" in ln and "SEAMLINE_CENTRA_TOKEN" in ln for ln in lines[1:])
    assert any("markets[0].cutoff:" in ln and "HH:MM" in ln for ln in lines[1:])
    assert "do-not-print-me" not in proc.stdout + proc.stderr


def test_toml_that_does_not_parse_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A syntax error names the file and the line, with no traceback."""
    bad = tmp_path / "broken.toml"
    bad.write_text("[store\ndatabase_url = 1\n", encoding="utf-8")
    proc = run("--config", str(bad), "db", "upgrade", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert "broken.toml" in proc.stderr
    assert "not valid TOML" in proc.stderr


@pytest.mark.parametrize("command", [("config", "check"), ("db", "upgrade"), ("worker",)])
def test_a_toml_syntax_error_is_printed_once(tmp_path: Path, command: tuple[str, ...]) -> None:
    """The parser's message (file, line, column) is printed once, on one line, by every
    command that reads the file."""
    bad = tmp_path / "broken.toml"
    bad.write_text('[store]\ndatabase_url = "sqlite:///x.db"\n[centra\n', encoding="utf-8")
    proc = run("--config", str(bad), *command, cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stderr.count("not valid TOML") == 1, proc.stderr
    assert proc.stderr.count("line 3") == 1, proc.stderr
    assert lines[0].startswith(f"error: {bad}: not valid TOML")


def test_a_missing_config_file_says_where_to_find_the_example(tmp_path: Path) -> None:
    """`config check` in an empty directory points at examples/seamline.toml."""
    proc = run("config", "check", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert proc.stderr.count("\n") == 1
    assert "examples/seamline.toml" in proc.stderr


def test_a_database_that_cannot_connect_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """A PostgreSQL URL nobody listens on: one line naming the URL (password masked) and a hint."""
    url = "postgresql+psycopg://seamline:hunter2secret@127.0.0.1:9/seamline"
    proc = run("--config", str(EXAMPLE), "db", "upgrade", cwd=tmp_path,
               env={"SEAMLINE_DATABASE_URL": url})
    assert proc.returncode == 3, proc.stderr
    assert_no_traceback(proc)
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: cannot connect to")
    assert "127.0.0.1:9" in proc.stderr
    assert "SEAMLINE_DATABASE_URL" in proc.stderr
    assert "hunter2secret" not in proc.stderr


def test_an_unknown_queue_name_is_one_line_listing_the_known_queues(tmp_path: Path) -> None:
    """`seamline worker --queues nope` names the queues that exist and exits 2."""
    proc = run("--config", str(EXAMPLE), "worker", "--queues", "orders,nope", cwd=tmp_path,
               env={"SEAMLINE_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"})
    assert proc.returncode == 2, proc.stderr
    assert_no_traceback(proc)
    assert "unknown queue 'nope'" in proc.stderr
    assert "orders" in proc.stderr.split("known queues:")[1]
    assert proc.stderr.count("\n") == 1


def test_secrets_from_the_environment_never_reach_the_terminal(tmp_path: Path) -> None:
    """config check reports a secret as set, never its value."""
    env = {"SEAMLINE_CENTRA_TOKEN": "tok-VISIBLE-NEVER-42",
           "SEAMLINE_BLUECHERRY_API_KEY": "key-VISIBLE-NEVER-43"}
    proc = run("--config", str(EXAMPLE), "config", "check", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "(token set)" in proc.stdout
    assert "(api key set)" in proc.stdout
    for secret in env.values():
        assert secret not in proc.stdout + proc.stderr


def test_an_empty_database_lists_no_exceptions_as_a_json_array(tmp_path: Path) -> None:
    """After `db upgrade`, `exceptions list --json` prints [] and exits 0."""
    env = {"SEAMLINE_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    up = run("--config", str(EXAMPLE), "db", "upgrade", cwd=tmp_path, env=env)
    assert up.returncode == 0, up.stderr
    proc = run("--config", str(EXAMPLE), "exceptions", "list", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_a_broken_plugin_costs_one_warning_line_and_nothing_else(tmp_path: Path) -> None:
    """An entry point that fails to import warns once; the core commands still work."""
    dist = tmp_path / "plugins" / "broken_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text(
        "[seamline.cli_plugins]\nbroken = no_such_module_anywhere:register\n", encoding="utf-8")
    proc = run("--config", str(EXAMPLE), "config", "check", cwd=tmp_path,
               env={"PYTHONPATH": str(tmp_path / "plugins")})
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    warnings = [ln for ln in proc.stderr.splitlines() if "plugin" in ln]
    assert len(warnings) == 1
    assert "'broken'" in warnings[0]
    assert "ModuleNotFoundError" in warnings[0]
    assert "configuration OK" in proc.stdout


@pytest.mark.parametrize("debug", ["", "1"])
def test_seamline_debug_switches_the_traceback_on(tmp_path: Path, debug: str) -> None:
    """SEAMLINE_DEBUG=1 shows the traceback an integrator may want; otherwise there is none."""
    url = "postgresql+psycopg://postgres@127.0.0.1:9/seamline"
    proc = run("--config", str(EXAMPLE), "db", "check", cwd=tmp_path,
               env={"SEAMLINE_DATABASE_URL": url, "SEAMLINE_DEBUG": debug})
    assert proc.returncode != 0
    assert ("Traceback" in proc.stderr) is bool(debug)
