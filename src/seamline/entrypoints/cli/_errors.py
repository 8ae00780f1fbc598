"""Turn every Seamline error that reaches the CLI into one actionable line and an exit code.

Exit codes: 2 configuration (and usage), 3 store, 1 anything else. A traceback is shown only
with ``SEAMLINE_DEBUG=1``.
"""

from __future__ import annotations

import os

from seamline.exceptions import ConfigError, SeamlineError, StoreError
from seamline.logging import redact_text

from ._state import err_console

__all__ = ["EXIT_CONFIG", "EXIT_OTHER", "EXIT_STORE", "debug_enabled", "exit_code_for", "report"]

EXIT_OTHER = 1
EXIT_CONFIG = 2
EXIT_STORE = 3


def debug_enabled() -> bool:
    """``SEAMLINE_DEBUG=1`` (or true/yes) shows tracebacks instead of one-line errors."""
    return os.environ.get("SEAMLINE_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, StoreError):
        return EXIT_STORE
    return EXIT_OTHER


def _line(text: str) -> None:
    # Plain text (no rich markup interpretation) so paths and brackets print as they are.
    err_console.print(redact_text(text), markup=False, highlight=False)


def report(exc: BaseException) -> int:
    """Print ``exc`` for a person at a terminal; return the exit code to use."""
    if isinstance(exc, ConfigError):
        _line(f"error: {exc.message}")
        for problem in exc.problems:
            _line(f"  - {problem}")
    elif isinstance(exc, SeamlineError):
        hint = exc.details.get("hint")
        _line(f"error: {exc.message}" + (f" ({hint})" if hint else ""))
    else:
        _line(
            f"internal error: {type(exc).__name__}: {exc} "
            "(set SEAMLINE_DEBUG=1 to see the traceback, and please report it)"
        )
    return exit_code_for(exc)
