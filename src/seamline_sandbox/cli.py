"""CLI plugin: ``seamline sandbox centra|bluecherry`` and ``seamline demo``.

The core CLI discovers :func:`register` through the ``seamline.cli_plugins`` entry point at run
time, so ``seamline`` never imports this package statically. Each simulator owns its command
(``seamline_sandbox.centra.cli`` / ``seamline_sandbox.bluecherry.cli``).

This module imports nothing of the sandbox extra: without it, ``seamline sandbox ...`` and
``seamline demo`` still exist but only print how to install the extra and exit 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from seamline_sandbox import INSTALL_HINT, missing_requirements

__all__ = ["EXIT_NO_EXTRA", "register"]

#: Exit status of ``seamline demo`` / ``seamline sandbox ...`` without the sandbox extra.
EXIT_NO_EXTRA = 1

_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True,
            "help_option_names": []}


def _needs_extra(what: str, missing: list[str]) -> Any:
    def command(ctx: typer.Context) -> None:
        typer.echo(f"error: {what} needs the sandbox extra ({', '.join(missing)} missing); "
                   f"install it with: {INSTALL_HINT}", err=True)
        sys.exit(EXIT_NO_EXTRA)

    command.__doc__ = f"{what.capitalize()} (needs the sandbox extra: {INSTALL_HINT})."
    return command


def register(app: typer.Typer) -> None:
    """Add ``sandbox`` and ``demo`` to the ``seamline`` CLI."""
    missing = missing_requirements()
    if missing:
        app.command("sandbox", context_settings=_CONTEXT)(_needs_extra("seamline sandbox",
                                                                       missing))
        app.command("demo", context_settings=_CONTEXT)(_needs_extra("seamline demo", missing))
        return
    sandbox_app = typer.Typer(
        help="Run a local simulator of Centra or BlueCherry.", no_args_is_help=True
    )
    for name in ("centra", "bluecherry"):
        module = importlib.import_module(f"seamline_sandbox.{name}.cli")
        sandbox_app.command(name)(module.command)
    app.add_typer(sandbox_app, name="sandbox")
    demo = importlib.import_module("seamline_sandbox.demo")
    app.command("demo")(demo.command)
