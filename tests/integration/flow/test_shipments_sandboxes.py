"""Shipments end to end over real HTTP: orders posted to the BlueCherry sandbox, shipped by its
warehouse (partial, complete and short), brought into the Centra sandbox by the shipment flow
with faults on both sides — and a worker process killed between Centra's create and complete.

Invariants: every BlueCherry shipment is in Centra exactly once (external id = BlueCherry
shipment number) with the shipped units and every carton's tracking number; one dispatch email
per shipment; an order whose every unit shipped or was cancelled ends SHIPPED in Centra.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import cli_env, run_cli, write_config

from seamline.bootstrap import Container
from seamline.config import Settings
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for
from seamline_sandbox.shipping import bluecherry_shipments, centra_shipments, ship
from seamline_sandbox.world import MARKETS

CARRIERS = {"UPSG": {"carrier": "UPS", "service": "Ground"},
            "PNORD": {"carrier": "PostNord", "service": "MyPack Home"}}


def _settings(sb: Sandboxes, tmp_path: Path, **queues: Any) -> Settings:
    base = settings_for(sb, f"sqlite:///{tmp_path / 'ship.db'}")
    data = base.model_dump(mode="python")
    data["shipments"] = {"carriers": CARRIERS, "not_in_centra_after_h": 1.0}
    data["queues"] = {**data["queues"], **queues}
    data["centra"]["token"] = sb.centra_token
    data["bluecherry"]["api_key"] = sb.bluecherry_key
    return Settings.model_validate(data)


@pytest.fixture
def sb() -> Iterator[Sandboxes]:
    with Sandboxes(seed=12, lift_rate_limits=True) as sandboxes:
        yield sandboxes


def _posted(sb: Sandboxes, container: Container, n: int) -> None:
    sb.place_orders(n, seed=5, hold_rate=0.0, waiting_payment_rate=0.0, unknown_sku_rate=0.0,
                    pickup_point_rate=0.0, inconsistent_rate=0.0,
                    markets=[m for m in MARKETS if m.id in (1, 3)])
    run_until_quiet(container, timeout_s=120)


def _assert_exactly_once(sb: Sandboxes) -> None:
    bc = bluecherry_shipments(sb)
    centra = centra_shipments(sb)
    by_ext = Counter(s["external_id"] for s in centra)
    assert bc
    for s in bc:
        assert by_ext[s["shipment_no"]] == 1, s["shipment_no"]
    mine = {s["external_id"]: s for s in centra}
    assert set(mine) == {s["shipment_no"] for s in bc}
    for s in bc:
        got = mine[s["shipment_no"]]
        assert got["is_shipped"], s["shipment_no"]
        assert sum(q for _, q in got["lines"]) == sum(ln["quantity"] for ln in s["lines"])
        tracking = [t for t in (got["tracking"] or "").split(",") if t]
        assert tracking == [c["tracking_number"] for c in s["cartons"]]
        assert got["packages"] == len(s["cartons"])
        assert got["carrier"] == CARRIERS.get(s["ship_via"], {}).get("carrier", s["carrier"])
    emails = Counter(e["shipment"] for e in sb.centra_emails())
    assert all(n == 1 for n in emails.values()), emails
    assert set(emails) == {s["number"] for s in centra}


def _assert_orders_done_are_shipped(sb: Sandboxes) -> None:
    for o in sb.centra_orders():
        if not o["shipments"]:
            continue
        done = all(ln["shipped"] >= ln["quantity"] for ln in o["lines"])
        assert (o["status"] == "SHIPPED") == done, o


def test_partial_complete_and_short_shipments_reach_centra_once_under_faults(
        sb: Sandboxes, tmp_path: Path) -> None:
    """Warehouse runs with partial and short shipments, 429/5xx/commit-then-drop on Centra's
    shipment mutations and 429/503 on BlueCherry's feed: every shipment once, one email each,
    short units cancelled, finished orders SHIPPED."""
    container = build_seamline(sb, _settings(sb, tmp_path))
    try:
        _posted(sb, container, 24)
        sb.centra_fault_rates({"500": 0.1, "commit_then_drop": 0.15, "429": 0.05},
                              match="mutation:*Shipment", seed=3, retry_after=0.2)
        sb.bluecherry_fault_rates({"429": 0.2, "503": 0.2}, match="shipments", seed=4,
                                  retry_after=0.2)
        for run in range(4):
            ship(sb, partial_probability=0.4, short_probability=0.15, seed=run)
            run_until_quiet(container, timeout_s=180, poll=False, batches=False,
                            catalogue=False, shipments=True)
        sb.clear_faults()
        run_until_quiet(container, timeout_s=120, poll=False, batches=False, catalogue=False,
                        shipments=True)
        _assert_exactly_once(sb)
        _assert_orders_done_are_shipped(sb)
        shorts = [o for o in sb.centra_orders() if any(ln["cancelled"] for ln in o["lines"])]
        with container.store.read() as uow:
            held = uow.exceptions.find(key_prefix="shipment:")
            short_exc = uow.exceptions.find(type="SHORT_SHIPPED")
        assert held == []
        assert len(short_exc) == len(shorts)
        per_order = Counter(s["order"] for s in centra_shipments(sb))
        print(f"shipments={sum(per_order.values())} orders={len(per_order)} "
              f"partial={sum(1 for n in per_order.values() if n > 1)} shorts={len(shorts)} "
              f"faults={sb.faults_snapshot()}")
        assert any(n > 1 for n in per_order.values())  # partial shipments happened
        assert shorts  # and short ones
    finally:
        container.close()


# -- a worker process killed between Centra's create and complete --------------------------


def _wait(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _states(container: Container) -> dict[str, str]:
    with container.store.read() as uow:
        return {e.business_key: e.state for s in ("new", "creating", "created", "completing",
                                                  "completed", "held")
                for e in uow.ledger.in_state("shipment", s)}


def _sync_process(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [str(Path(__import__("sys").executable).with_name("seamline")), "--config",
            str(config), "shipments", "sync", "--wait", "30", "--json"]
    with log.open("ab") as fh:
        return subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_a_process_killed_between_create_and_complete_leaves_one_shipment_and_one_email(
        sb: Sandboxes, tmp_path: Path) -> None:
    """kill -9 while createShipment is in flight (Centra may apply it after the process died),
    then kill -9 while completeShipment hangs (not applied); a restarted process reads Centra
    back: one shipment per BlueCherry shipment, shipped, one email each."""
    settings = _settings(sb, tmp_path, lease_s=5)
    container = build_seamline(sb, settings)
    config = write_config(tmp_path / "seamline.toml", settings)
    env = cli_env(sb)
    log = tmp_path / "sync.log"
    try:
        _posted(sb, container, 3)
        ship(sb)
        first = bluecherry_shipments(sb)[0]["shipment_no"]
        key = first
        sb.centra_fault("latency", 1, match="mutation:createShipment", delay_s=3.0)
        proc = _sync_process(config, env, log)
        _wait("the first create in flight", lambda: _states(container).get(key) == "creating")
        _kill(proc)
        # The server may still apply the create after the client died (the usual case) or
        # drop it with the connection: either way the ledger never learned a Centra id.
        time.sleep(4.0)
        assert _states(container)[key] == "creating"
        sb.centra_fault("timeout", 1, match="mutation:completeShipment", delay_s=30.0)
        proc = _sync_process(config, env, log)
        _wait("a completion in flight", lambda: "completing" in _states(container).values(),
              60)
        _kill(proc)
        sb.clear_faults()
        proc = _sync_process(config, env, log)
        assert proc.wait(timeout=120) == 0, log.read_text()
        assert set(_states(container).values()) == {"completed"}, _states(container)
        _assert_exactly_once(sb)
        story = run_cli(config, env, "shipments", "show", first, "--json")
        assert story["state"] == "completed"
        assert story["email_sent"] is True
        assert story["tracking"]
        assert run_cli(config, env, "shipments", "late", "--json") == []
        assert run_cli(config, env, "shipments", "unshipped", "--days", "0", "--json") == []
    finally:
        container.close()
