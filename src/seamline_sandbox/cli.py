"""CLI plugin: ``seamline sandbox centra|bluecherry`` and ``seamline demo``.

The core CLI discovers :func:`register` through the ``seamline.cli_plugins`` entry point at run
time, so ``seamline`` never imports this package statically.
"""

from __future__ import annotations

import typer

sandbox_app = typer.Typer(
    help="Run a local simulator of Centra or BlueCherry.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the sandbox command group (and, once built, ``demo``) to the ``seamline`` CLI."""
    app.add_typer(sandbox_app, name="sandbox")
