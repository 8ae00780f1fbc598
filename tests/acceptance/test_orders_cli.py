"""People move orders by hand and trace one: ``seamline orders sync|post|show`` as a subprocess
against sandboxes started by the test, configured by the example file with their addresses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from seamline_sandbox.harness import Sandboxes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def _config(sb: Sandboxes, path: Path) -> Path:
    """The example configuration, pointed at the test's sandboxes, every market real-time."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
    text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
    text = text.replace('mode = "daily"', 'mode = "realtime"')
    assert sb.centra_url in text
    assert sb.bluecherry_url in text
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandboxes, Path, dict]]:
    tmp = tmp_path_factory.mktemp("orders-cli")
    with Sandboxes(seed=11) as sb:
        cfg = _config(sb, tmp / "seamline.toml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp / 'seamline.db'}",
                   SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key,
                   SEAMLINE_LOG_LEVEL="ERROR")
        run = _runner(cfg, env, tmp)
        assert run("db", "upgrade").returncode == 0
        yield sb, cfg, {"run": run}


def _runner(cfg: Path, env: dict[str, str], cwd: Path):  # type: ignore[no-untyped-def]
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    return run


def test_sync_post_and_show_tell_the_whole_story_of_a_posted_order(world: tuple) -> None:
    """A GB order synced and posted by hand is in BlueCherry once; show --json tells it all."""
    sb, _, ctx = world
    run = ctx["run"]
    g = sb.place_order({"market_id": 3, "lines": [{"sku": _skus(sb)[20], "quantity": 2}],
                        "voucher_percent": 10})
    synced = run("orders", "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["orders_read"] >= 1
    posted = run("orders", "post", "--json")
    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["ledger"].get("synced", 0) >= 1
    shown = run("orders", "show", str(g.number), "--json")
    assert shown.returncode == 0, shown.stderr
    story = json.loads(shown.stdout)
    bc = sb.bluecherry_orders(sb.reference(g))
    assert len(bc) == 1
    assert story["state"] == "synced"
    assert story["order_no"] == bc[0]["order_no"] == story["bluecherry"]["order_no"]
    assert Decimal(story["payload"]["totals"]["total"]) == Decimal(g.expected_total)
    assert Decimal(story["bluecherry"]["total"]) == Decimal(g.expected_total)
    assert story["centra"]["grand_total"] == g.expected_total
    assert sb.centra_external_ids()[g.number] == bc[0]["order_no"]
    assert {j["task"] for j in story["jobs"]} >= {"orders.post"}
    assert any(a["action"] == "posted" for a in story["audit"])
    assert len(story["line_map"]) == 1


def test_show_names_the_missing_mapping_that_holds_an_order(world: tuple) -> None:
    """An order in the unmapped market NO shows as parked on its MAPPING_MISSING exception."""
    sb, _, ctx = world
    run = ctx["run"]
    g = sb.place_order({"market_id": 6, "lines": [{"sku": _skus(sb)[30], "quantity": 1}]})
    assert run("orders", "sync").returncode == 0
    assert run("orders", "post").returncode == 0
    shown = run("orders", "show", str(g.number))
    assert shown.returncode == 0, shown.stderr
    assert "parked" in shown.stdout
    assert "MAPPING_MISSING" in shown.stdout
    assert "mapping:market:6/NOK" in shown.stdout
    assert sb.bluecherry_orders(sb.reference(g)) == []


def test_sync_requeues_a_parked_order_once_its_mapping_is_in_the_file(world: tuple) -> None:
    """An order parked on a missing shipping option: with the option mapped in the file,
    ``orders sync`` re-queues it (no restart, no hourly catalogue sync) and ``post`` posts it."""
    sb, cfg, ctx = world
    run = ctx["run"]
    g = sb.place_order({"market_id": 3, "shipping_option": "pickup-point",
                        "lines": [{"sku": _skus(sb)[31], "quantity": 1}]})
    assert run("orders", "sync").returncode == 0
    assert run("orders", "post").returncode == 0
    assert json.loads(run("orders", "show", str(g.number), "--json").stdout)["state"] == "parked"
    text = cfg.read_text(encoding="utf-8")
    assert "[shipping_options]\n" in text
    cfg.write_text(text.replace("[shipping_options]\n",
                                '[shipping_options]\n"pickup-point" = "RMTR"\n'),
                   encoding="utf-8")
    try:
        synced = run("orders", "sync", "--json")
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["parked_requeued"] == 1
        assert run("orders", "post").returncode == 0
        assert len(sb.bluecherry_orders(sb.reference(g))) == 1
    finally:
        cfg.write_text(text, encoding="utf-8")


def test_show_of_an_unknown_order_is_one_line_and_a_non_zero_exit(world: tuple) -> None:
    """A number the ledger never saw: one actionable line, exit 1, no traceback."""
    _, _, ctx = world
    shown = ctx["run"]("orders", "show", "999999")
    assert shown.returncode == 1
    assert "not on the ledger" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_post_refuses_a_batch_date_that_is_not_a_date(world: tuple) -> None:
    """``--batch`` takes YYYY-MM-DD; anything else is refused before anything runs."""
    _, _, ctx = world
    done = ctx["run"]("orders", "post", "--batch", "tomorrow")
    assert done.returncode == 1
    assert "YYYY-MM-DD" in done.stderr


def _skus(sb: Sandboxes) -> list[str]:
    return [i.sku for i in sb.centra.state.world.catalogue if not i.centra_only]
