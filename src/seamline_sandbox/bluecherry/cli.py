"""``seamline sandbox bluecherry``: run the BlueCherry sandbox (REST contract under /api/v1)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app

__all__ = ["command"]


def command(  # noqa: PLR0917 (typer options are parameters)
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8702,
    seed: Annotated[int, typer.Option(help="Seed of the shared sandbox world.")] = 1,
    api_key: Annotated[str, typer.Option(
        help="API key clients must send (Authorization: Bearer <key>, or "
             "Ocp-Apim-Subscription-Key: <key>).")] = DEFAULT_API_KEY,
    auth_header: Annotated[str, typer.Option(help="Header carrying the key.")] = "Authorization",
    auth_scheme: Annotated[str, typer.Option(
        help="Scheme before the key in that header ('' for the bare key).")] = "Bearer",
    ats_cycle_seconds: Annotated[float | None, typer.Option(
        help="Run an ATS cycle every N seconds (default: only on POST /_sandbox/ats/cycle).")
    ] = None,
    ats_lag_seconds: Annotated[float, typer.Option(
        help="A cycle's as_of lags its run by this many seconds.")] = 0.0,
    warehouse_seconds: Annotated[float | None, typer.Option(
        help="Run the warehouse (pick, ship, invoice) every N seconds "
             "(default: only on POST /_sandbox/warehouse/run).")] = None,
    partial_probability: Annotated[float, typer.Option(
        help="Scheduled warehouse runs: share of orders shipped partially.")] = 0.2,
    short_probability: Annotated[float, typer.Option(
        help="Scheduled warehouse runs: share of orders shipped short.")] = 0.05,
    rate_limit: Annotated[float | None, typer.Option(
        help="Requests per second over which the API answers 429 + Retry-After.")] = None,
    hold_seconds: Annotated[float, typer.Option(
        help="How long timeout / commit-then-drop faults hold a request before dropping it.")
    ] = 30.0,
) -> None:
    """Run the BlueCherry sandbox (REST contract under /api/v1, control API under /_sandbox).

    The API key defaults to sandbox-bluecherry-key.
    """
    app = create_app(
        seed=seed, api_key=api_key, auth_header=auth_header, auth_scheme=auth_scheme,
        ats_cycle_seconds=ats_cycle_seconds, ats_lag_seconds=ats_lag_seconds,
        warehouse_seconds=warehouse_seconds,
        warehouse_options={"partial_probability": partial_probability,
                           "short_probability": short_probability},
        rate_limit=rate_limit, hold_seconds=hold_seconds,
    )
    typer.echo(f"BlueCherry sandbox on http://{host}:{port}/api/v1 (control: /_sandbox/state)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
