"""The ``seamline`` command line (console script ``seamline.entrypoints.cli:main``).

::

    seamline [--config PATH] config check [--online]
    seamline db upgrade|check
    seamline worker [--queues a,b] [--concurrency N]
    seamline scheduler
    seamline run                                   # worker + scheduler + web, one process
    seamline web serve|hash-password               # the dashboard alone; a sign-in hash
    seamline jobs list|show|retry
    seamline exceptions list|show|retry|skip|resolve
    seamline orders sync|post|show
    seamline shipments sync|show|late
    seamline payments batch|show
    seamline reconcile --date D [--market M] [--format csv|html|json] [--output FILE] | history
    seamline centra budget                         # the shared Centra API budget
    seamline sandbox ... / seamline demo           # plugins (entry point seamline.cli_plugins)

Every ``SeamlineError`` that reaches here prints one actionable line and exits non-zero
(2 configuration, 3 store, 1 other); tracebacks only with ``SEAMLINE_DEBUG=1``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import click
import typer

from seamline import __version__

from ._errors import EXIT_OTHER, debug_enabled, report
from ._state import CliState, out_console
from .alerts_cmd import alerts_app
from .centra_cmd import centra_app
from .config_cmd import config_app
from .db_cmd import db_app
from .drift_cmd import __all__ as _drift_commands  # noqa: F401 - registers its commands
from .exceptions_cmd import exceptions_app
from .jobs_cmd import jobs_app
from .orders_cmd import orders_app
from .payments_cmd import payments_app
from .plugins import load_plugins
from .process_cmd import register_process_commands
from .reconcile_cmd import reconcile_app
from .shipments_cmd import shipments_app
from .stock_cmd import stock_app
from .web_cmd import web_app

__all__ = ["build_app", "main"]


def _version(value: bool) -> None:
    if value:
        out_console.print(f"seamline {__version__}", markup=False)
        raise typer.Exit()


def build_app(*, plugins: bool = True) -> typer.Typer:
    """The ``seamline`` Typer app, with the plugins discovered at run time."""
    app = typer.Typer(
        name="seamline",
        help="Seamline joins Centra to CGS BlueCherry: orders, stock, shipments, payments.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config", "-c",
                help="Configuration file (else $SEAMLINE_CONFIG, else ./seamline.toml).",
                dir_okay=False,
            ),
        ] = None,
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True,
                         help="Print the version and exit."),
        ] = False,
    ) -> None:
        ctx.obj = CliState(config=config)

    app.add_typer(config_app, name="config")
    app.add_typer(db_app, name="db")
    register_process_commands(app)
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(exceptions_app, name="exceptions")
    app.add_typer(orders_app, name="orders")
    app.add_typer(stock_app, name="stock")
    app.add_typer(shipments_app, name="shipments")
    app.add_typer(payments_app, name="payments")
    app.add_typer(web_app, name="web")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(reconcile_app, name="reconcile")
    app.add_typer(centra_app, name="centra")
    if plugins:
        load_plugins(app)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    command = typer.main.get_command(build_app())
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name="seamline",
                     standalone_mode=True)
    except (SystemExit, click.exceptions.Exit):
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug_enabled():
            raise
        sys.exit(report(exc) or EXIT_OTHER)
