"""Paging over Centra's two list styles.

- Relay connections (``orderConnection(first, after)``): follow ``pageInfo.endCursor`` while
  ``hasNextPage``; Centra recommends these for large sets because cursors stay stable while data
  changes between pages.
- Plain lists (``orders(limit, page)``, ``shipments(limit, page)``): ask page 1, 2, … until a page
  comes back shorter than ``limit``.

Both refuse to loop forever on a server that repeats itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from seamline.exceptions import PermanentError

__all__ = ["iter_connection", "iter_pages"]


def iter_connection(
    fetch: Callable[[str | None], Mapping[str, Any]], *, max_pages: int = 100_000
) -> Iterator[Mapping[str, Any]]:
    """Yield every edge's ``node``. ``fetch(after)`` returns one connection object
    (``{pageInfo: {hasNextPage, endCursor}, edges: [{node}]}``)."""
    after: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        conn = fetch(after)
        for edge in conn.get("edges") or ():
            yield edge["node"]
        info = conn.get("pageInfo") or {}
        cursor = info.get("endCursor")
        if not info.get("hasNextPage") or not cursor:
            return
        if cursor in seen:
            raise PermanentError(f"centra: cursor {cursor!r} repeated; paging stopped",
                                 system="centra")
        seen.add(cursor)
        after = str(cursor)
    raise PermanentError(f"centra: more than {max_pages} pages", system="centra")


def iter_pages(
    fetch: Callable[[int], Sequence[Any]], *, limit: int, max_pages: int = 100_000
) -> Iterator[Any]:
    """Yield every item of pages 1, 2, …; ``fetch(page)`` returns at most ``limit`` items."""
    for page in range(1, max_pages + 1):
        items = fetch(page)
        yield from items
        if len(items) < limit:
            return
    raise PermanentError(f"centra: more than {max_pages} pages", system="centra")
