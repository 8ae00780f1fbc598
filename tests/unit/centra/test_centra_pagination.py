"""Paging helpers follow cursors and pages, and refuse to loop forever."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.adapters.centra.pagination import iter_connection, iter_pages
from seamline.exceptions import PermanentError


def test_pages_stop_at_the_first_short_page() -> None:
    """limit 2 over five items asks three pages."""
    asked: list[int] = []

    def fetch(page: int) -> list[int]:
        asked.append(page)
        return list(range(5))[(page - 1) * 2: page * 2]

    assert list(iter_pages(fetch, limit=2)) == [0, 1, 2, 3, 4]
    assert asked == [1, 2, 3]


def test_a_repeated_cursor_stops_paging() -> None:
    """A server that hands back the same cursor would otherwise loop forever."""

    def fetch(after: str | None) -> dict[str, Any]:
        return {"pageInfo": {"hasNextPage": True, "endCursor": "same"},
                "edges": [{"node": {"n": 1}}]}

    with pytest.raises(PermanentError, match="repeated"):
        list(iter_connection(fetch))
