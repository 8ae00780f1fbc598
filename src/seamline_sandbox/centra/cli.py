"""``seamline sandbox centra``: run the Centra sandbox on a local port."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["command"]


def command(  # noqa: PLR0917 (typer options)
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8701, help="TCP port."),
    seed: int = typer.Option(1, help="Seed of the world (catalogue, stock) and orders."),
    token: str = typer.Option(
        "sandbox-centra-token",
        help="Integration API token accepted as 'Authorization: Bearer <token>' or the "
             "'graphql-access' cookie (all permissions). Default: sandbox-centra-token.",
    ),
    orders: int = typer.Option(0, help="Generate and place this many orders at start."),
    lift_rate_limits: bool = typer.Option(
        False, "--lift-rate-limits", help="Turn Centra's rate limits off (benchmarks)."),
    requests_10s: int = typer.Option(60, help="REQUEST_COUNT quota per 10 s (Growth: 60)."),
    mutations_10s: int = typer.Option(20, help="MUTATION_COUNT quota per 10 s (Growth: 20)."),
    retry_after: float = typer.Option(
        -1, help="Fixed Retry-After seconds on 429 (-1: the real wait)."),
    hide_field: Annotated[list[str] | None, typer.Option(
        "--hide-field",
        help="Serve the schema without this field, as Type.field (repeatable; tests of a "
             "Centra that lacks a field).")] = None,
) -> None:
    """Run a faithful local Centra Integration API (GraphQL) with a /_sandbox/ control API."""
    # Imported here so that `seamline --help` stays fast.
    import uvicorn  # noqa: PLC0415

    from seamline_sandbox.centra.app import create_app  # noqa: PLC0415

    sandbox = create_app(seed=seed, token=token, orders=orders, hide_fields=hide_field or ())
    sandbox.limiter.configure(sizes={"REQUEST_COUNT:TEN_SECONDS": requests_10s,
                                     "MUTATION_COUNT:TEN_SECONDS": mutations_10s},
                              retry_after=retry_after, enabled=not lift_rate_limits)
    typer.echo(f"Centra sandbox on http://{host}:{port}/graphql (token {token!r}); "
               f"control API at /_sandbox/docs")
    uvicorn.run(sandbox, host=host, port=port, log_level="warning", lifespan="off")
