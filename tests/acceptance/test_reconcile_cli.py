"""Finance reconciles a day by hand: ``seamline reconcile --date D [--market M] [--format]
[--output]`` and ``seamline reconcile history`` as subprocesses, configured by the example file,
against a BlueCherry sandbox and a store seeded with one day (one of each difference planted)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.queue import JobQueue
from seamline_sandbox.harness import Sandboxes
from seamline_sandbox.reconcile_seed import PLANTS, seed_day

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")
DAY = date(2026, 11, 2)
CLEAN = date(2026, 11, 3)


def test_reconcile_prints_each_format_exits_4_on_differences_and_keeps_history(
        tmp_path: Path) -> None:
    with Sandboxes(seed=5, lift_rate_limits=True) as sb:
        text = EXAMPLE.read_text(encoding="utf-8")
        text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
        text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
        cfg = tmp_path / "seamline.toml"
        cfg.write_text(text, encoding="utf-8")
        url = f"sqlite:///{tmp_path / 'seamline.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=url, SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, SEAMLINE_LOG_LEVEL="ERROR")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=180,
                                  check=False)

        assert run("db", "upgrade").returncode == 0
        db = Database(url)
        store = SqlStore(db, JobQueue(db))
        planted = seed_day(sb.bluecherry.state, store, day=DAY, n=200, first_number=1,
                           plant=dict.fromkeys(PLANTS, 1))
        seed_day(sb.bluecherry.state, store, day=CLEAN, n=60, first_number=1000)
        db.dispose()

        as_json = run("reconcile", "--date", DAY.isoformat(), "--format", "json")
        assert as_json.returncode == 4, as_json.stderr
        reports = json.loads(as_json.stdout)["reports"]
        found = {(DAY.isoformat(), r["market"], row["kind"], row["order"] or row["reference"])
                 for r in reports for row in r["rows"]}
        assert found == planted.expected
        assert {r["market"] for r in reports} == {"SE", "DE", "GB", "JP", "US"}

        out = tmp_path / "jp.csv"
        as_csv = run("reconcile", "--date", DAY.isoformat(), "--market", "JP", "-o", str(out))
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert {r["market"] for r in rows} == {"JP"}
        total = next(r for r in rows if r["kind"] == "TOTAL")
        assert int(total["order"]) == len(rows) - 1
        assert as_csv.returncode == (4 if len(rows) > 1 else 0)
        assert f"Report written to {out}" in as_csv.stderr

        html = run("reconcile", "--date", DAY.isoformat(), "--format", "html")
        assert html.stdout.startswith("<!doctype html>")
        assert "total_mismatch" in html.stdout

        clean = run("reconcile", "--date", CLEAN.isoformat())
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert clean.stdout.count("\n") == 1 + 5  # the header and one TOTAL row per market

        history = run("reconcile", "history", "--json")
        assert history.returncode == 0, history.stderr
        kept = json.loads(history.stdout)
        assert {(k["day"], k["market"]) for k in kept} == {
            (d.isoformat(), m) for d in (DAY, CLEAN) for m in ("SE", "DE", "GB", "JP", "US")}
        assert kept[0]["day"] == CLEAN.isoformat()
