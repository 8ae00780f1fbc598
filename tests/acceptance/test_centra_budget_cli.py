"""People read the Centra budget: ``seamline centra budget [--json]`` as a subprocess, after a
stock sync spent some of it, against sandboxes started by the test (the example configuration
with their addresses). The budget follows the quotas Centra reports, not the configured ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from seamline_sandbox.harness import Sandboxes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def test_centra_budget_shows_the_calibrated_buckets_what_a_sync_spent_and_the_backlog(
        tmp_path: Path) -> None:
    with Sandboxes(seed=5) as sb:
        # Centra has lowered this environment's ten-second mutation quota to 12.
        sb.centra.limiter.configure(sizes={"mutations_10s": 12})
        text = EXAMPLE.read_text(encoding="utf-8")
        text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
        text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
        cfg = tmp_path / "seamline.toml"
        cfg.write_text(text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'seamline.db'}",
                   SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, SEAMLINE_LOG_LEVEL="ERROR",
                   COLUMNS="200")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=180,
                                  check=False)

        assert run("db", "upgrade").returncode == 0
        sb.ats_cycle()
        sync = run("stock", "sync", "--full", "--json")
        assert sync.returncode == 0, sync.stderr
        spent = json.loads(sync.stdout)["mutations"]
        assert spent >= 1
        out = run("centra", "budget", "--json")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        buckets = {b["name"]: b for b in report["buckets"]}
        assert len(buckets) == 6
        assert buckets["centra:mutations:10s"]["capacity"] == 10.8  # 12 × headroom 0.9
        assert buckets["centra:mutations:1h"]["capacity"] == 1620.0  # 1,800 × 0.9
        assert buckets["centra:mutations:1h"]["level"] <= 1620.0 - spent
        assert report["waiting_shipments"] == 0
        assert report["backlog"].get("shipments", 0) == 0
        assert report["dispatch_delayed"] is False
        assert sb.centra.limiter.throttled == 0
        human = run("centra", "budget")
        assert human.returncode == 0, human.stderr
        assert "Centra rate-limit buckets" in human.stdout
        assert "Mutations waiting, per flow" in human.stdout
        assert "mutations/hour sustainable; 0 shipment(s) waiting" in human.stdout
