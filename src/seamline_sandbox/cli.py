"""CLI plugin: ``seamline sandbox centra|bluecherry`` and ``seamline demo``.

The core CLI discovers :func:`register` through the ``seamline.cli_plugins`` entry point at run
time, so ``seamline`` never imports this package statically. Each simulator owns its command
(``seamline_sandbox.centra.cli`` / ``seamline_sandbox.bluecherry.cli``); a simulator that is not
importable yet is simply left out.
"""

from __future__ import annotations

import importlib

import typer

sandbox_app = typer.Typer(
    help="Run a local simulator of Centra or BlueCherry.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``sandbox`` (and ``demo``, when present) to the ``seamline`` CLI."""
    for name in ("centra", "bluecherry"):
        try:
            module = importlib.import_module(f"seamline_sandbox.{name}.cli")
        except ModuleNotFoundError:
            continue
        sandbox_app.command(name)(module.command)
    app.add_typer(sandbox_app, name="sandbox")
    try:
        demo = importlib.import_module("seamline_sandbox.demo")
    except ModuleNotFoundError:
        return
    app.command("demo")(demo.command)
