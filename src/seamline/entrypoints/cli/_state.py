"""What every command shares: the chosen config path, the loaded settings, the consoles."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import typer
from rich.console import Console

from seamline.config import Settings, find_config_path, load_settings

__all__ = ["CliState", "err_console", "out_console", "state"]

#: Width when the output is not a terminal (a pipe, a file, a test): wide enough that no
#: table is cut or wrapped to the 80 columns Rich otherwise assumes. ``COLUMNS`` still wins.
PIPE_WIDTH = 10_000


def _width(stream: TextIO) -> int | None:
    if os.environ.get("COLUMNS", "").isdigit():
        return None  # Rich reads it
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return None if tty else PIPE_WIDTH


#: Results go to stdout; diagnostics, warnings and errors to stderr.
out_console = Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


@dataclass
class CliState:
    """Per-invocation state, kept on the click context (``ctx.obj``)."""

    config: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _logging: bool = False

    @property
    def config_path(self) -> Path:
        """``--config``, else ``$SEAMLINE_CONFIG``, else ``./seamline.toml``."""
        return find_config_path(self.config)

    def settings(self, *, require_file: bool = False) -> Settings:
        """Load (once) and validate the settings; a ``ConfigError`` lists every problem."""
        if self._settings is None:
            self._settings = load_settings(self.config, require_file=require_file)
            from seamline.logging import register_secrets_from  # noqa: PLC0415 - lazy: keep CLI start-up light

            register_secrets_from(self._settings)
        return self._settings

    def setup_logging(self) -> None:
        """Configure structured logging once, for the long-running commands."""
        if not self._logging:
            from seamline.logging import configure_logging  # noqa: PLC0415 - lazy: keep CLI start-up light

            configure_logging(os.environ.get("SEAMLINE_LOG_LEVEL"))
            self._logging = True


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` of this invocation (created by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
