"""Exceptions as people read them: the record, its history, and the orders it holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ExceptionRecord", "HistoryEntry"]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change to an exception."""

    at: datetime
    action: str
    actor: str
    note: str
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """An exception as stored."""

    id: int
    type: str
    owner: str
    severity: str
    business_key: str
    state: str
    count: int
    message: str
    details: dict[str, Any] | None
    payload: dict[str, Any] | None
    job_id: int | None
    attempts: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    history: tuple[HistoryEntry, ...] = field(default=())
    #: The orders the exception holds (parked on it), from the exception–order relation.
    orders: tuple[int | str, ...] = field(default=())

    @classmethod
    def from_row(
        cls, row: Any, history: Iterable[HistoryEntry] = (), orders: Iterable[str] = (),
    ) -> ExceptionRecord:
        return cls.from_mapping(row._mapping, history, orders)

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], history: Iterable[HistoryEntry] = (),
        orders: Iterable[str] = (),
    ) -> ExceptionRecord:
        m = dict(values)
        held = tuple(sorted((_order_ref(o) for o in orders), key=_order_sort))
        if held:
            # The list is derived here, never stored: the stored message names the cause.
            m["message"] = f"{m['message']}; {_held_text(held)}"
        return cls(**m, history=tuple(history), orders=held)


def _order_ref(key: str) -> int | str:
    return int(key) if key.isdigit() else key


def _order_sort(ref: int | str) -> tuple[int, int, str]:
    return (0, ref, "") if isinstance(ref, int) else (1, 0, ref)


def _held_text(held: tuple[int | str, ...]) -> str:
    shown = ", ".join(str(n) for n in held[:10]) + (" …" if len(held) > 10 else "")
    return f"{len(held)} order(s) wait: {shown}"
