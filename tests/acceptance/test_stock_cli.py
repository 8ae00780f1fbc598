"""People sync stock by hand: ``seamline stock sync [--full] [--sku PATTERN]`` and ``seamline
stock status`` as subprocesses against sandboxes started by the test, configured by the example
file with their addresses."""

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


def _config(sb: Sandboxes, path: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
    text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
    assert sb.centra_url in text
    path.write_text(text, encoding="utf-8")
    return path


def test_stock_sync_sets_centra_from_the_latest_cycle_and_status_tells_what_waits(
        tmp_path: Path) -> None:
    """A full sync sets every size; a delivery of one SKU then goes as one delta mutation; a
    pattern limits a run; ``status`` shows the run and the buffers; Centra holds the figures."""
    with Sandboxes(seed=5, lift_rate_limits=True) as sb:
        cfg = _config(sb, tmp_path / "seamline.toml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'seamline.db'}",
                   SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, SEAMLINE_LOG_LEVEL="ERROR")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=180,
                                  check=False)

        assert run("db", "upgrade").returncode == 0
        sb.ats_cycle()
        full = run("stock", "sync", "--full", "--json")
        assert full.returncode == 0, full.stderr
        report = json.loads(full.stdout)
        sizes = len(sb.bluecherry.state.items) * 3  # three Centra warehouses in the example
        assert report["pushed"] == sizes, report
        assert report["mutations"] == -(-len(sb.bluecherry.state.items) // 1000) * 3
        item = sb.bluecherry.state.items[7]
        on_hand = sb.bluecherry.state.on_hand[(item.sku, "W01")]
        sb.set_bluecherry_stock(item.sku, "W01", on_hand + 9)
        sb.ats_cycle()
        delta = run("stock", "sync")
        assert delta.returncode == 0, delta.stderr
        assert "pushed 1 in 1 setStock mutation(s); 0 still to push" in delta.stdout
        # [warehouses] "1" = ["W01"]; no buffer in the example: Centra holds ATS exactly
        ats = sb.bluecherry.state.ats.latest.figures[("W01", item.sku)][3]
        assert sb.centra_free_to_allocate(1, item.sku) == ats
        only = run("stock", "sync", "--full", "--sku", item.sku, "--json")
        assert json.loads(only.stdout)["pushed"] == 3
        status = run("stock", "status", "--json")
        assert status.returncode == 0, status.stderr
        st = json.loads(status.stdout)
        assert st["sizes"]["sizes"] == sizes
        assert st["sizes"]["pending"] == 0
        assert st["last_run"]["pushed"] == 3
        assert st["buffers"] == [{"warehouse": None, "sku": None, "units": 0}]
