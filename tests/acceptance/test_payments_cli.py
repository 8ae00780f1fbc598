"""Finance runs the payment batch by hand: ``seamline payments batch --date D --market M`` and
``seamline payments show --date D`` as subprocesses, configured by the example file, against
sandboxes where UK orders were posted, shipped (partly in two shipments) and captured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from seamline.config import load_settings
from seamline.domain.payments import business_day
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet
from seamline_sandbox.shipping import ship
from seamline_sandbox.world import MARKETS

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


def test_payments_batch_posts_the_days_captures_once_and_show_lists_them(
        tmp_path: Path) -> None:
    with Sandboxes(seed=9, lift_rate_limits=True) as sb:
        cfg = _config(sb, tmp_path / "seamline.toml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'seamline.db'}",
                   SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, SEAMLINE_LOG_LEVEL="ERROR")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=180,
                                  check=False)

        container = build_seamline(sb, load_settings(cfg, env=env))
        try:
            sb.place_orders(5, seed=3, hold_rate=0.0, waiting_payment_rate=0.0,
                            unknown_sku_rate=0.0, pickup_point_rate=0.0, inconsistent_rate=0.0,
                            markets=[m for m in MARKETS if m.id == 3])
            run_until_quiet(container, timeout_s=120)
            for seed in range(2):
                ship(sb, partial_probability=0.5, short_probability=0.0, seed=seed)
                run_until_quiet(container, timeout_s=120, poll=False, batches=False,
                                catalogue=False, shipments=True)
            uk = container.payments.market_named("3/GBP")
            assert uk is not None
            day = business_day(sb.now(), uk.tz).isoformat()
        finally:
            container.close()
        captures = [p for o in sb.centra_orders() for p in o["payments"]
                    if p["type"] == "CAPTURE"]
        assert captures
        total = sum((Decimal(p["value"]) for p in captures), Decimal(0))

        first = run("payments", "batch", "--date", day, "--market", "3/GBP")
        assert first.returncode == 0, first.stderr
        assert (f"payments batch 3/GBP {day}: {len(captures)} receipt(s) and 0 credit memo(s) "
                "posted, 0 already in BlueCherry, 0 refused") in first.stdout
        row = next(line for line in first.stdout.splitlines() if line.strip().startswith("GBP"))
        assert row.replace("│", " ").split() == ["GBP", f"{total:.2f}", "-", "-"], row
        again = run("payments", "batch", "--date", day, "--market", "3/GBP", "--json")
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert (report["receipts"], report["memos"], report["repeats"]) == (0, 0, 0)
        assert len(sb.bluecherry.state.receipts) == len(captures)

        show = run("payments", "show", "--date", day, "--json")
        assert show.returncode == 0, show.stderr
        listed = json.loads(show.stdout)
        assert {d["state"] for d in listed["documents"]} == {"posted"}
        assert len(listed["documents"]) == len(captures)
        assert sum(Decimal(d["amount"]) for d in listed["documents"]) == total
        assert all(d["bluecherry"] for d in listed["documents"])
        text = run("payments", "show", "--date", day)
        assert f"payments of {day}: {len(captures)} document(s)" in text.stdout

        bad = run("payments", "batch", "--date", "yesterday")
        assert bad.returncode != 0
        assert "YYYY-MM-DD" in bad.stderr
