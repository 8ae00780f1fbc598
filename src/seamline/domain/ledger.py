"""What the ledger keeps: one row per entity, and the typed view of an order's row.

The ledger row of an order (``kind='order'``, key = Centra order number) keeps a JSON object
whose keys the order flow writes step by step. ``OrderData`` reads them by name and type without
copying the object, so the stored shape stays exactly what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["KEEP", "Hold", "LedgerEntry", "OrderData", "OrderRecord", "OrderState"]


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: ``posted_hash=KEEP``: leave the stored hash as it is.
KEEP: Any = _Keep()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entity's row in the ledger."""

    id: int
    kind: str
    business_key: str
    state: str
    version: int
    data: dict[str, Any]
    posted_hash: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> LedgerEntry:
        m = row._mapping
        return cls(
            id=m["id"],
            kind=m["kind"],
            business_key=m["business_key"],
            state=m["state"],
            version=m["version"],
            data=dict(m["data"] or {}),
            posted_hash=m["posted_hash"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class Hold:
    """An order held by an open exception."""

    exception_id: int
    type: str
    business_key: str
    order_key: str


class OrderState(StrEnum):
    """Where an order is on the ledger.

    ``new`` → ``waiting`` (hold, payment, status) | ``batch`` (waiting for its daily batch) |
    ``parked`` (an exception holds it) | ``never`` (cancelled before posting) | ``posting``
    (payload frozen) → ``posted`` (in BlueCherry) → ``synced`` (written back to Centra).
    """

    NEW = "new"
    WAITING = "waiting"
    BATCH = "batch"
    PARKED = "parked"
    NEVER = "never"
    POSTING = "posting"
    POSTED = "posted"
    SYNCED = "synced"

    @property
    def is_done(self) -> bool:
        """Posted or beyond, or never to be posted: nothing left for ``orders.post``."""
        return self in _DONE

    @property
    def in_bluecherry(self) -> bool:
        return self in _IN_BLUECHERRY


_IN_BLUECHERRY = frozenset({OrderState.POSTED, OrderState.SYNCED})
_DONE = _IN_BLUECHERRY | {OrderState.NEVER}


class OrderData:
    """The typed view of an order row's JSON (read-only; writes go through the repository).

    Intake: ``snapshot`` (the Centra order as recorded), ``first_seen``. Gates and batches:
    ``reason``, ``eligible_at``, ``business_day``, ``late_s``, ``parks``. Posting: ``frozen``
    (the payload), ``erp_attempts``, ``posted_from``. Posted: ``order_no``, ``erp_created_at``,
    ``posted_at``, ``posted_how``, ``line_map``, ``conversion_rate``, ``confirm`` and the change
    fingerprints ``fp_static``, ``fp_amounts``, ``cancelled_units``. After: ``cancels``,
    ``written_back_at``.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrderData) and dict(self.raw) == dict(other.raw)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OrderData({dict(self.raw)!r})"

    @property
    def snapshot(self) -> dict[str, Any]:
        """The Centra order as last recorded (``order_to_dict``)."""
        snap: dict[str, Any] = self.raw["snapshot"]
        return snap

    @property
    def first_seen(self) -> str | None:
        return self._str("first_seen")

    @property
    def reason(self) -> str | None:
        return self._str("reason")

    @property
    def eligible_at(self) -> str | None:
        return self._str("eligible_at")

    @property
    def business_day(self) -> str | None:
        return self._str("business_day")

    @property
    def late_s(self) -> int | None:
        value = self.raw.get("late_s")
        return None if value is None else int(value)

    @property
    def parks(self) -> list[str]:
        return [str(p) for p in self.raw.get("parks", [])]

    @property
    def frozen(self) -> dict[str, Any] | None:
        """The frozen payload (``SalesOrder.to_dict``) every attempt sends."""
        value: dict[str, Any] | None = self.raw.get("frozen")
        return value

    @property
    def erp_attempts(self) -> int:
        return int(self.raw.get("erp_attempts", 0))

    @property
    def posted_from(self) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self.raw.get("posted_from")
        return value

    @property
    def order_no(self) -> str | None:
        return self._str("order_no")

    @property
    def posted_at(self) -> str | None:
        return self._str("posted_at")

    @property
    def posted_how(self) -> str | None:
        return self._str("posted_how")

    @property
    def written_back_at(self) -> str | None:
        return self._str("written_back_at")

    @property
    def line_map(self) -> dict[int, int]:
        """Centra line id → BlueCherry line number (stored with string keys)."""
        return {int(k): int(v) for k, v in self.raw.get("line_map", {}).items()}

    @property
    def confirm(self) -> bool:
        """Whether the write-back confirms the order (PENDING → CONFIRMED)."""
        return bool(self.raw.get("confirm"))

    @property
    def fp_static(self) -> str | None:
        return self._str("fp_static")

    @property
    def fp_amounts(self) -> str | None:
        return self._str("fp_amounts")

    @property
    def cancelled_units(self) -> int:
        return int(self.raw.get("cancelled_units", 0))

    @property
    def cancels(self) -> list[str]:
        return [str(c) for c in self.raw.get("cancels", [])]

    def _str(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order's ledger row: its number, state and typed data."""

    number: int
    state: OrderState
    data: OrderData
    version: int = 0

    @property
    def key(self) -> str:
        """The ledger key (the Centra order number as text)."""
        return str(self.number)

    @property
    def raw(self) -> dict[str, Any]:
        """The stored JSON object (a copy is the caller's to change)."""
        return dict(self.data.raw)

    @classmethod
    def from_entry(cls, entry: LedgerEntry) -> OrderRecord:
        return cls(number=int(entry.business_key), state=OrderState(entry.state),
                   data=OrderData(entry.data), version=entry.version)
