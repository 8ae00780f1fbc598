"""Where the CLI meets the store, the queue and the composition root.

Every import of those layers is lazy and lives here, so ``seamline --help`` and
``seamline config check`` start fast and work without a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seamline.logging import redact_text

if TYPE_CHECKING:
    from seamline.bootstrap import Container
    from seamline.config import Settings

__all__ = ["build_runtime", "display_url", "open_database"]


def display_url(url: str) -> str:
    """A database URL fit to print (the password masked)."""
    return redact_text(url)


def open_database(settings: Settings, *, check: bool = True) -> Any:
    """The ``Database`` for ``[store].database_url``; with ``check`` it must answer now.

    An unreachable database raises ``StoreError`` with a one-line message (exit code 3).
    """
    from seamline.bootstrap import open_database as _open  # noqa: PLC0415 - lazy start-up

    return _open(settings, check=check)


def build_runtime(settings: Settings) -> Container:
    """The composition root's container, with the database checked (``StoreError`` if down)."""
    from seamline.bootstrap import build  # noqa: PLC0415 - lazy: keep CLI start-up light

    container = build(settings)
    container.db.check()
    return container
