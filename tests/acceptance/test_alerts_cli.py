"""``seamline alerts test`` and ``seamline alerts list`` over the real CLI, against a local
SMTP server and a local webhook receiver; route URLs never printed whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alert_receivers import SmtpSink, WebhookSink

SEAMLINE = Path(sys.executable).with_name("seamline")
SECRET = "Sup3rSecretWebhookToken"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env.update(COLUMNS="250", TERMINAL_WIDTH="250")
    return subprocess.run([str(SEAMLINE), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpSink, WebhookSink]]:
    with SmtpSink() as smtp, WebhookSink() as hooks:
        yield smtp, hooks


def write_config(tmp_path: Path, routes: dict[str, list[str]]) -> Path:
    lines = [f'[store]\ndatabase_url = "sqlite:///{tmp_path / "cli.db"}"\n', "[alerts.routes]"]
    lines += [f"{owner} = {json.dumps(urls)}" for owner, urls in routes.items()]
    path = tmp_path / "seamline.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_alerts_test_reaches_every_route_and_alerts_list_shows_the_deliveries(
        tmp_path: Path, receivers: tuple[SmtpSink, WebhookSink]) -> None:
    smtp, hooks = receivers
    cfg = write_config(tmp_path, {
        "finance": [smtp.url("finance@example.com")],
        "ecommerce": [hooks.url(f"/slack/{SECRET}")],
        "operations": [hooks.url("/teams"), f"json://127.0.0.1:1/down/{SECRET}"],
    })
    assert run("--config", str(cfg), "db", "upgrade", cwd=tmp_path).returncode == 0
    check = run("--config", str(cfg), "config", "check", cwd=tmp_path)
    assert "alerts      4 route(s): ecommerce → json, finance → mailto, operations → json + " \
        "json" in check.stdout
    # No [warehouses] and no [[markets]]: no stock or reconciliation schedules; 12 built-in
    # ones and, with routes, the alerts one.
    assert "schedules   13 will run: " in check.stdout
    assert ", alerts every 1 min" in check.stdout

    one = run("--config", str(cfg), "alerts", "test", "--owner", "finance", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert "1 route(s) reached" in one.stdout
    assert [m.subject for m in smtp.mails] == ["Seamline: test alert for finance"]

    every = run("--config", str(cfg), "alerts", "test", cwd=tmp_path)
    assert every.returncode == 1
    assert "1 of 4 route(s) could not be reached" in every.stderr
    assert every.stdout.count(" sent ") == 3
    assert "FAILED" in every.stdout
    assert [p.path for p in hooks.posts] == [f"/slack/{SECRET}", "/teams"]
    assert len(smtp.mails) == 2

    listed = run("--config", str(cfg), "alerts", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 5
    assert sorted(r["status"] for r in rows) == ["failed", "sent", "sent", "sent", "sent"]
    assert {r["kind"] for r in rows} == {"test"}
    table = run("--config", str(cfg), "alerts", "list", "--owner", "operations", cwd=tmp_path)
    assert table.returncode == 0
    assert "failed" in table.stdout
    for out in (check, one, every, listed, table):
        assert SECRET not in out.stdout + out.stderr


def test_alerts_test_without_a_route_says_how_to_add_one(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {})
    run("--config", str(cfg), "db", "upgrade", cwd=tmp_path)
    proc = run("--config", str(cfg), "alerts", "test", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no alert route configured" in proc.stderr
    assert "[alerts.routes]" in proc.stderr
