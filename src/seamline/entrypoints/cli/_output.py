"""Rendering records for people (rich tables) and for scripts (``--json``)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from rich.table import Table
from rich.text import Text

from ._state import out_console

__all__ = ["as_dict", "format_time", "print_heading", "print_json", "print_record",
           "print_table", "print_text", "print_tree"]


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict from a dataclass, pydantic model, SQLAlchemy row or mapping."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dict(dump())
    mapping = getattr(obj, "_mapping", None)
    if mapping is not None:
        return dict(mapping)
    return dict(vars(obj))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(as_dict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (datetimes ISO 8601, Decimals as strings)."""
    sys.stdout.write(json.dumps(_jsonable(data), default=str, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()


def format_time(value: Any) -> str:
    """A time for people: ``2026-12-06 05:30:12`` (UTC unless it says otherwise), no
    microseconds; an ISO 8601 string is read first; anything else as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return "-" if value is None else str(value)
    zone = value.tzname()
    text: str = value.strftime("%Y-%m-%d %H:%M:%S")
    return text + ("" if zone in (None, "UTC") else f" {zone}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def print_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """A rich table of ``columns`` (``name`` or ``name:Header``).

    Title, headers and cells are plain ``Text``, never read as Rich markup: ``[...]`` in a value
    (an exception's hint, say) is shown as it is. (``rich.markup.escape`` would do for brackets
    but doubles a trailing backslash.)"""
    materialised = list(rows)
    if not materialised:
        out_console.print(empty, markup=False)
        return
    table = Table(title=None if title is None else Text(title, style="table.title"),
                  show_edge=False, header_style="bold")
    keys: list[str] = []
    for col in columns:
        key, _, header = col.partition(":")
        keys.append(key)
        table.add_column(Text(header or key))
    for row in materialised:
        table.add_row(*(Text(_cell(row.get(k))) for k in keys))
    out_console.print(table)


def print_text(text: str) -> None:
    """One line of plain text on stdout: never read as Rich markup, never cut."""
    out_console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_heading(title: str) -> None:
    """A section heading (bold on a terminal), after a blank line."""
    out_console.print()
    out_console.print(Text(title, style="bold"), soft_wrap=True)


def _tree_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [f"{pad}-"]
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, Mapping | list | tuple) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_tree_lines(item, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_leaf(item)}")
        return lines
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            if isinstance(item, Mapping) and item:
                inner = _tree_lines(item, indent + 2)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out.extend(inner[1:])
            else:
                out.append(f"{pad}- {_leaf(item)}")
        return out or [f"{pad}-"]
    return [f"{pad}{_leaf(value)}"]


def _leaf(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(_jsonable(value), default=str, ensure_ascii=False) if value else "-"
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        return format_time(value)
    return _cell(value)


def print_tree(value: Any, *, indent: int = 0) -> None:
    """Nested data as indented ``key: value`` lines (lists as ``- `` items), for people."""
    for line in _tree_lines(_jsonable(value), indent):
        print_text(line)


def print_record(record: Mapping[str, Any]) -> None:
    """One record as ``key  value`` lines; nested values as indented ``key: value`` lines."""
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        if isinstance(value, Mapping | list | tuple) and value:
            print_text(key)
            print_tree(value, indent=2)
        else:
            print_text(f"{key.ljust(width)}  {_leaf(value) if value not in ((), []) else '-'}")
