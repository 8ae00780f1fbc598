"""``seamline demo --fast``, the README's main-job command, runs a checked trading day in
under a minute from the installed console script; with ``--keep`` its dashboard stays up until
the process is told to stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

SEAMLINE = Path(sys.executable).with_name("seamline")


def test_demo_fast_exits_zero_with_a_summary_read_from_both_sandboxes(tmp_path: Path) -> None:
    """Summary in under a minute (BlueCherry counts, exceptions, write-backs), the dashboard
    answers while kept, and SIGTERM ends it with exit 0 because every invariant held."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    started = time.monotonic()
    out_path = tmp_path / "out.txt"
    with out_path.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen([str(SEAMLINE), "demo", "--fast", "--keep"], cwd=tmp_path,
                                env=env, stdout=sink, stderr=subprocess.PIPE, text=True)
        try:
            while "press Ctrl-C" not in out_path.read_text(encoding="utf-8"):
                assert proc.poll() is None, out_path.read_text(encoding="utf-8")
                assert time.monotonic() - started < 60, "the demo took a minute or more"
                time.sleep(0.2)
            out = out_path.read_text(encoding="utf-8")
            url = re.search(r"Dashboard: (http://127\.0\.0\.1:\d+/)", out)
            assert url is not None
            assert httpx.get(url.group(1) + "healthz", timeout=10).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    out = out_path.read_text(encoding="utf-8")
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "Time is simulated" in out
    assert "Orders in BlueCherry (read from the BlueCherry sandbox" in out
    for market in ("SE", "DE", "GB", "JP", "US"):
        assert re.search(rf"^ {market}\s", out, re.MULTILINE), market
    assert "MAPPING_MISSING" in out
    assert "UNKNOWN_SKU" in out
    assert "mapping:market:6/NOK" in out
    assert re.search(r"Faults that fired in the Bluecherry sandbox: .*commit_then_drop", out)
    assert re.search(r"the full sync set \d+ sizes in Centra in \d+ setStock mutations", out)
    assert "the next one asked for 1 more and Centra refused it" in out
    assert re.search(r"delivery of 10 units each of 12 SKUs .* 12 size\(s\) pushed in 1 "
                     r"mutation", out)
    assert "✓ no Centra size offers more than BlueCherry can ship" in out
    assert re.search(r"Payments — the batch of \d{4}-\d\d-\d\d at 06:00 the next morning: "
                     r"[1-9]\d* cash receipt\(s\) and 2 credit memo\(s\) posted", out)
    assert re.search(r"^  received \d/([A-Z]{3}) \(WEB[A-Z]{2}\): \d+(\.\d+)? \1$", out,
                     re.MULTILINE)
    assert "✓ every Centra capture is one BlueCherry cash receipt" in out
    assert "✓ every Centra refund is one BlueCherry credit memo" in out
    assert "✗" not in out
    assert "All invariants hold." in out
