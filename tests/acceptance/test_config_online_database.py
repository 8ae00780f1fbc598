"""``seamline config check --online`` connects to the database and reports its migration state."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamline.adapters.store import Database
from seamline_sandbox.harness import Sandboxes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def _check(sb: Sandboxes, tmp: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
    text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
    cfg = tmp / "seamline.toml"
    cfg.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env.update(SEAMLINE_DATABASE_URL=database_url, SEAMLINE_CENTRA_TOKEN=sb.centra_token,
               SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, COLUMNS="300")
    return subprocess.run([str(SEAMLINE), "-c", str(cfg), "config", "check", "--online"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(seed=5, lift_rate_limits=True) as sb:
        yield sb


def test_online_reports_a_migrated_database_as_at_the_latest_migration(
    sandboxes: Sandboxes, tmp_path: Path,
) -> None:
    """A database at head: exit 0 and a 'migrations  at the latest migration' line."""
    url = f"sqlite:///{tmp_path / 'seamline.db'}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    proc = _check(sandboxes, tmp_path, url)
    assert proc.returncode == 0, proc.stderr
    assert "migrations  at the latest migration (" in proc.stdout


def test_online_warns_that_a_database_behind_needs_db_upgrade(
    sandboxes: Sandboxes, tmp_path: Path,
) -> None:
    """A database one migration behind: the configuration passes, with a warning naming the
    revisions and `seamline db upgrade`."""
    url = f"sqlite:///{tmp_path / 'seamline.db'}"
    db = Database(url)
    db.upgrade("0003")
    db.dispose()
    proc = _check(sandboxes, tmp_path, url)
    assert proc.returncode == 0, proc.stderr
    assert "warning: database at migration 0003, latest " in proc.stderr
    assert "run `seamline db upgrade`" in proc.stderr


def test_online_refuses_a_database_it_cannot_reach_with_exit_2(
    sandboxes: Sandboxes, tmp_path: Path,
) -> None:
    """Nobody listens at the URL: a problem at store.database_url, exit 2, password masked."""
    proc = _check(sandboxes, tmp_path,
                  "postgresql+psycopg://app:hunter2pw@127.0.0.1:9/seamline")
    assert proc.returncode == 2, proc.stderr
    assert "store.database_url: cannot connect to" in proc.stderr
    assert "hunter2pw" not in proc.stderr + proc.stdout
