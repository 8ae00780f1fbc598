"""Extra command groups discovered at run time (entry point group ``seamline.cli_plugins``).

Each entry point names a callable ``register(app: typer.Typer) -> None``. The sandbox and the
demo arrive this way, so the core never imports ``seamline_sandbox``. A plugin that cannot be
loaded costs one warning line on stderr, never a traceback and never the rest of the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer

from ._state import err_console

__all__ = ["GROUP", "load_plugins"]

GROUP = "seamline.cli_plugins"


def load_plugins(
    app: typer.Typer, *, eps: Iterable[EntryPoint] | None = None,
    warn: Callable[[str], Any] | None = None,
) -> list[str]:
    """Call every plugin's ``register(app)``; return the names that loaded."""
    def _warn(text: str) -> None:
        err_console.print(text, markup=False, highlight=False)

    say = warn or _warn
    loaded: list[str] = []
    for ep in eps if eps is not None else entry_points(group=GROUP):
        try:
            register = ep.load()
            register(app)
        except Exception as exc:  # a broken plugin must never take the CLI down
            detail = str(exc).splitlines()[0] if str(exc) else ""
            say(
                f"warning: CLI plugin {ep.name!r} ({ep.value}) could not be loaded: "
                f"{type(exc).__name__}{': ' + detail if detail else ''}"
            )
            continue
        loaded.append(ep.name)
    return loaded
