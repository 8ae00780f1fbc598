"""Parking: an order waits on one exception per missing mapping, SKU or bad total (the
exception↔order relation), and is re-queued once what it waits for exists."""

from __future__ import annotations

from collections.abc import Iterable

from seamline.domain.exception_keys import ExceptionKey, MappingKey, SkuKey, parse_key
from seamline.domain.ledger import Hold, OrderState
from seamline.domain.orders import CentraOrder
from seamline.domain.posting import Catalogue, find_market
from seamline.exceptions import MappingMissing, TotalMismatch, UnknownSku
from seamline.services.orders.core import FlowCore, order_key
from seamline.services.unit_of_work import JobScope, UnitOfWork

__all__ = ["FIXABLE", "Park", "Parking", "requeue_orders"]

#: Exceptions that hold orders until a mapping or a SKU exists (they re-queue themselves).
FIXABLE = ("MAPPING_MISSING", "UNKNOWN_SKU")

Park = tuple[ExceptionKey, MappingMissing | UnknownSku | TotalMismatch]


def park_message(exc: MappingMissing | UnknownSku | TotalMismatch, number: int) -> str:
    """The cause and the fix; which orders wait is derived from the exception–order relation
    when the exception is read (see ``ExceptionRecord``), never stored in the message."""
    if isinstance(exc, MappingMissing):
        what = MappingKey.of(exc.key).value
        hint = ("add a [[markets]] entry for it" if exc.kind == "market"
                else "add it under [shipping_options]")
        return f"no {exc.kind.replace('_', ' ')} mapping for {what}: {hint}"
    if isinstance(exc, UnknownSku):
        return (f"SKU {exc.sku} (GTIN {exc.gtin or '-'}) is not in BlueCherry's catalogue: add it "
                "in BlueCherry or map it under [sku_overrides]")
    return f"{exc.message} (Centra order {number})"


def requeue_orders(uow: UnitOfWork, orders: Iterable[int | str]) -> list[int]:
    """Queue ``orders.post`` again for each order (a retry: it maps the order with the
    configuration and the catalogue as they are when the job runs). An order whose post job
    already waits is not queued twice, nor one already posted (or never to be). Returns the
    numbers of the orders queued."""
    numbers = sorted({int(ref) for ref in orders if str(ref).isdigit()})
    rows = uow.orders.get_many(numbers)
    queued: list[int] = []
    for number in numbers:
        row = rows.get(number)
        if row is not None and row.state.is_done:
            continue
        if uow.outbox.enqueue("orders.post", {"number": number}, queue="orders",
                              dedupe_key=f"order:post:{number}",
                              business_key=order_key(number)) is not None:
            queued.append(number)
    return queued


class Parking(FlowCore):
    """Park orders on exceptions; re-queue them when the fix exists."""

    def _park(self, ctx: JobScope, order: CentraOrder, parks: list[Park]) -> None:
        """Park the order on one exception per missing mapping: one row per (exception, order)
        in the exception–order relation, written in the transaction that parks the order."""
        keyed = sorted(((str(k), e) for k, e in parks), key=lambda p: p[0])  # one lock order
        with self.store.for_job(ctx) as uow:
            self._park_in(uow, order, keyed)

    def _park_in(self, uow: UnitOfWork, order: CentraOrder,
                 parks: list[tuple[str, MappingMissing | UnknownSku | TotalMismatch]]) -> None:
        held_by: list[int] = []
        for business_key, exc in parks:
            exc_id = uow.exceptions.raise_(
                type=exc.exception_type, owner=exc.owner_for(), business_key=business_key,
                message=park_message(exc, order.number),
                details={k: v for k, v in exc.details.items() if k != "unknown"},
                now=self.clock(),
            )
            uow.exceptions.hold_order(exc_id, str(order.number), now=self.clock())
            held_by.append(exc_id)
        # Parked on something else than before (the order changed in Centra): it leaves
        # the exceptions that held it for a cause it no longer has.
        self._release_parks(uow, order.number, keep=held_by,
                            why=f"order {order.number} now waits on something else")
        self._patch(uow, order.number, state=OrderState.PARKED, set_={
            "parks": [b for b, _ in parks],
            "reason": "; ".join(e.message for _, e in parks)})

    def requeue_parked(self, uow: UnitOfWork) -> int:
        """Re-queue the orders held by exceptions whose missing mapping or SKU now exists (read
        from the exception–order relation). Run after a configuration change and after each
        catalogue sync. Each such exception resolves once the last order it holds leaves it
        (posted, or parked on something else); one that holds none resolves now."""
        catalogue = self.catalogue_cache.get(uow, self.rules)
        # Lock first, then read who is held: a park committing meanwhile is seen, not lost.
        fixable = uow.exceptions.lock_open(None, types=FIXABLE)
        holds = uow.exceptions.open_holds()
        by_order: dict[str, list[Hold]] = {}
        for h in holds:
            by_order.setdefault(h.order_key, []).append(h)
        n = 0
        for key, on in by_order.items():
            # An order held on its own totals waits for a person (edit-and-retry), not a fix;
            # one held on two mappings waits until both exist.
            if not all(h.type in FIXABLE and self._mapping_exists(h.business_key, catalogue)
                       for h in on):
                continue
            if uow.outbox.enqueue("orders.post", {"number": int(key)}, queue="orders",
                                  dedupe_key=f"order:post:{key}",
                                  business_key=order_key(int(key))):
                n += 1
        holding = {h.exception_id for h in holds}
        uow.exceptions.resolve_ids(
            [i for i, _, business_key in fixable
             if i not in holding and self._mapping_exists(business_key, catalogue)],
            actor="system", note="the mapping now exists; no order waits on it",
            now=self.clock())
        return n

    def _mapping_exists(self, business_key: str, catalogue: Catalogue) -> bool:
        key = parse_key(business_key)
        if isinstance(key, SkuKey):
            return key.sku in catalogue or bool(self.rules.sku_overrides.get(key.sku))
        if isinstance(key, MappingKey):
            market = key.market
            if market is not None:
                return find_market(self.markets, market[0], market[1]) is not None
            if key.kind == "shipping_option":
                return key.value in self.rules.shipping_options
        return False
