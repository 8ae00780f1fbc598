"""The order flow's state and the ledger edits every part of it shares."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from seamline.domain.exception_keys import OrderKey
from seamline.domain.ledger import KEEP, OrderRecord, OrderState
from seamline.domain.orders import CentraOrder
from seamline.domain.posting import MarketCodes, PostingRules, find_market
from seamline.ports import BlueCherryGateway, CentraGateway
from seamline.services.orders.catalogue_cache import CatalogueCache
from seamline.services.unit_of_work import Store, Tx, UnitOfWork

__all__ = ["FlowCore", "Tx", "chunks", "order_key"]



def order_key(number: int) -> str:
    """The business key of an order's jobs and exceptions (``order:<n>``)."""
    return str(OrderKey(number))


def _now() -> datetime:
    return datetime.now(UTC)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class FlowCore:
    """Everything the order flow needs; one per process, built by the composition root."""

    store: Store
    centra: CentraGateway
    erp: BlueCherryGateway
    markets: tuple[MarketCodes, ...]
    rules: PostingRules
    lock_after_post: bool = False
    poll_overlap_s: int = 120
    sweep_days: int = 7
    clock: Callable[[], datetime] = _now
    catalogue_cache: CatalogueCache = field(default_factory=CatalogueCache)
    _listening: bool = field(default=False, repr=False)
    #: One first catalogue sync at a time in this process (see ``Posting``).
    _first_sync: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _market(self, order: CentraOrder) -> MarketCodes | None:
        return find_market(self.markets, order.market_id, order.currency)

    def _patch(self, uow: UnitOfWork, number: int, *, state: OrderState | None = None,
               set_: Mapping[str, Any] | None = None, drop: Iterable[str] = (),
               row: OrderRecord | None = None, posted_hash: str | None = KEEP) -> OrderRecord:
        """Change some fields of an order's ledger row *as it is now* (read under lock in this
        unit of work, or ``row`` when the caller just did), so a snapshot that intake recorded
        meanwhile is never overwritten."""
        if row is None:
            row = uow.orders.get(number, for_update=True)
        data = dict(row.data.raw) if row is not None else {}
        for name in drop:
            data.pop(name, None)
        data.update(set_ or {})
        new_state = state or (row.state if row is not None else OrderState.NEW)
        if (row is not None and row.state is OrderState.PARKED
                and new_state is not OrderState.PARKED):
            # Leaving parking (re-queued and mapped now, cancelled, on hold...): the order
            # leaves the exceptions that held it, in this same unit of work.
            self._release_parks(uow, number, why=f"order {number} is {new_state} now")
        return uow.orders.save(number, state=new_state, data=data, now=self.clock(),
                               posted_hash=posted_hash)

    def _release_parks(self, uow: UnitOfWork, number: int, *, keep: Iterable[int] = (),
                       why: str) -> None:
        """Take the order off every exception that holds it (but ``keep``); an exception that
        then holds no order resolves: nothing waits on it any more."""
        empty = uow.exceptions.release_order(str(number), keep=keep)
        uow.exceptions.resolve_ids(empty, actor="system", note=why, now=self.clock())

    def _snapshot_moved(self, number: int, seen: Mapping[str, Any]) -> bool:
        """Whether intake recorded a newer Centra snapshot while this job worked on ``seen``
        (its own job could not be enqueued then: the running job holds the dedupe key)."""
        with self.store.read() as uow:
            row = uow.orders.get(number)
        return row is not None and row.data.raw.get("snapshot") != seen
