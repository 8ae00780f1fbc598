"""``seamline db upgrade|check``."""

from __future__ import annotations

import typer

from ._state import out_console, state
from ._wiring import display_url, open_database

__all__ = ["db_app"]

db_app = typer.Typer(help="Create or migrate the database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the tables or migrate them to the latest revision (safe to repeat)."""
    settings = state(ctx).settings()
    db = open_database(settings, check=False)
    db.upgrade()
    out_console.print(
        f"database {display_url(settings.store.database_url)} is up to date", markup=False
    )


@db_app.command("check")
def check(ctx: typer.Context) -> None:
    """Check that the database answers and carries the latest schema."""
    settings = state(ctx).settings()
    open_database(settings, check=True)
    out_console.print(
        f"database {display_url(settings.store.database_url)} is reachable", markup=False
    )
