"""People find and settle drift by hand: ``seamline orders drift``, ``exceptions accept-drift``
and ``correct-drift``, and ``orders missing``, as a subprocess against sandboxes started by the
test, configured by the example file with their addresses. The sandboxes' clock is not moved:
the CLI runs on the real one, and intake reads Centra only up to its own now."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seamline_sandbox.harness import Sandboxes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def _config(sb: Sandboxes, path: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
    text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
    text = text.replace('mode = "daily"', 'mode = "realtime"')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandboxes, Any]]:
    tmp = tmp_path_factory.mktemp("drift-cli")
    with Sandboxes(seed=13) as sb:
        cfg = _config(sb, tmp / "seamline.toml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp / 'seamline.db'}",
                   SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key,
                   SEAMLINE_LOG_LEVEL="ERROR")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp, env=env,
                                  capture_output=True, text=True, timeout=120, check=False)

        assert run("db", "upgrade").returncode == 0
        yield sb, run


def _skus(sb: Sandboxes) -> list[str]:
    return [i.sku for i in sb.centra.state.world.catalogue if not i.centra_only]


def _post_one(sb: Sandboxes, run: Any, quantity: int = 1) -> dict[str, Any]:
    g = sb.place_order({"market_id": 3, "lines": [{"sku": _skus(sb)[30], "quantity": quantity}]})
    assert run("orders", "sync").returncode == 0
    posted = run("orders", "post")
    assert posted.returncode == 0, posted.stderr
    found = sb.bluecherry_orders(sb.reference(g))
    assert len(found) == 1, run("orders", "show", str(g.number)).stdout
    return found[0]


def test_drift_is_found_listed_and_accepted_from_the_command_line(world: tuple) -> None:
    sb, run = world
    o = _post_one(sb, run)
    sb.edit_bluecherry_order(o["order_no"], login="anna", lines=[{"line_no": 1, "quantity": 3}])
    found = run("orders", "drift", "--json")
    assert found.returncode == 0, found.stderr
    body = json.loads(found.stdout)
    assert body["raised"] == 1
    [exc] = body["open"]
    fields = {d["field"]: (d["centra"], d["bluecherry"]) for d in exc["diff"]}
    assert fields["line 1 quantity"] == ("1", "3")

    text = run("orders", "drift")
    assert text.returncode == 0, text.stderr
    assert "Centra says" in text.stdout
    assert "line 1 quantity" in text.stdout

    accepted = run("exceptions", "accept-drift", str(exc["id"]), "-m", "customer asked")
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted" in accepted.stdout
    again = json.loads(run("orders", "drift", "--json").stdout)
    assert (again["raised"], again["open"]) == (0, [])
    shown = json.loads(run("exceptions", "show", str(exc["id"]), "--json").stdout)
    assert shown["state"] == "resolved"
    assert run("exceptions", "accept-drift", str(exc["id"])).returncode != 0


def test_correct_drift_cancels_added_units_or_says_what_a_person_must_change(
        world: tuple) -> None:
    sb, run = world
    o = _post_one(sb, run, quantity=2)
    sb.edit_bluecherry_order(o["order_no"], login="bo", lines=[{"line_no": 1, "quantity": 4}])
    one = json.loads(run("orders", "drift", "--json").stdout)
    [exc] = [e for e in one["open"] if o["order_no"] in e["message"]]
    fixed = run("exceptions", "correct-drift", str(exc["id"]))
    assert fixed.returncode == 0, fixed.stderr
    assert "corrected" in fixed.stdout
    [now] = sb.bluecherry_orders(o["external_reference"])
    assert now["lines"][0]["cancelled_quantity"] == 2

    sb.edit_bluecherry_order(o["order_no"], login="bo", ship_to={"city": "Leeds"})
    two = json.loads(run("orders", "drift", "--order", o["customer_po"], "--json").stdout)
    [exc2] = two["open"]
    left = run("exceptions", "correct-drift", str(exc2["id"]))
    assert left.returncode == 0, left.stderr
    assert "stays open" in left.stdout
    assert "ship_to.city" in left.stdout


def test_orders_missing_lists_nothing_when_every_order_posted(world: tuple) -> None:
    _, run = world
    shown = run("orders", "missing", "--watch", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == []
    assert "no order is missing" in run("orders", "missing").stdout
