"""Scheduled ATS cycles and warehouse runs, and the ``seamline sandbox bluecherry`` command."""

from __future__ import annotations

import time

import httpx
import typer
from typer.testing import CliRunner

from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.bluecherry.cli import command
from seamline_sandbox.bluecherry.examples import sample_order
from seamline_sandbox.serve import ServerThread


def test_scheduled_cycles_and_warehouse_runs_happen_by_themselves() -> None:
    """With intervals set, ATS cycles publish and orders ship without any control call."""
    app = create_app(ats_cycle_seconds=0.1, warehouse_seconds=0.1)
    with ServerThread(app) as srv, httpx.Client(
            base_url=f"{srv.url}/api/v1",
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}) as api:
        first = api.get("/inventory/ats", params={"page_size": 1}).json()["cycle"]["id"]
        assert api.post("/sales-orders", json=sample_order(1)).status_code == 201
        deadline = time.monotonic() + 5
        shipments: list[object] = []
        while time.monotonic() < deadline and not shipments:
            time.sleep(0.05)
            shipments = api.get("/shipments").json()["items"]
        cycle = api.get("/inventory/ats", params={"page_size": 1}).json()["cycle"]["id"]
    assert shipments
    assert cycle > first


def test_the_command_documents_its_options_and_the_default_key() -> None:
    """--help lists host, port, seed, api key (with its default) and the cycle knobs."""
    app = typer.Typer()
    app.command()(command)
    out = CliRunner().invoke(app, ["--help"], terminal_width=200).output
    for option in ("--host", "--port", "--seed", "--api-key", "--ats-cycle-seconds",
                   "--warehouse-seconds", "--rate-limit", "sandbox-bluecherry-key", "8702"):
        assert option in out
