"""``seamline demo --fast``, the README's main-job command, runs a checked trading day in
under a minute from the installed console script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

SEAMLINE = Path(sys.executable).with_name("seamline")


def test_demo_fast_exits_zero_with_a_summary_read_from_both_sandboxes(tmp_path: Path) -> None:
    """Exit 0 in under a minute; the summary counts BlueCherry orders, exceptions, write-backs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    started = time.monotonic()
    done = subprocess.run([str(SEAMLINE), "demo", "--fast"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert elapsed < 60
    out = done.stdout
    assert "Time is simulated" in out
    assert "Orders in BlueCherry (read from the BlueCherry sandbox" in out
    for market in ("SE", "DE", "GB", "JP", "US"):
        assert re.search(rf"^ {market}\s", out, re.MULTILINE), market
    assert "MAPPING_MISSING" in out
    assert "UNKNOWN_SKU" in out
    assert "mapping:market:6/NOK" in out
    assert re.search(r"Faults that fired in the Bluecherry sandbox: .*commit_then_drop", out)
    assert "✗" not in out
    assert re.search(r"Dashboard: http://127\.0\.0\.1:\d+/", out)
    assert "All invariants hold." in out
