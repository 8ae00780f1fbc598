"""The unit of work the services run on: typed repositories and the outbox, one transaction.

A service opens a unit of work from a :class:`Store` (``begin()`` to write, ``read()`` to
read, ``for_job(ctx)`` inside a queued job: fenced by the job's lease) and reaches the store only
through its repositories; everything written in one unit of work, the jobs it enqueues included
(the transactional outbox), commits together when the block ends without an error and not at
all otherwise.

Two implementations: ``seamline.adapters.store.unit_of_work`` (SQLite and PostgreSQL, with the
row locks and advisory locks that make parking and batches race-safe) and
``seamline.testing.store`` (in memory, for the service tests). Both pass one contract suite
(``tests/contract/test_unit_of_work_contract.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Protocol

from seamline.domain.alerts import Alert, AlertDelivery
from seamline.domain.exception_records import ExceptionRecord
from seamline.domain.ledger import KEEP, Hold, LedgerEntry, OrderRecord, OrderState
from seamline.domain.money import Money
from seamline.domain.payments import InvoiceRecord, PaymentDocument, PaymentRecord
from seamline.domain.stock import DemandLine, LevelRow, StockTarget
from seamline.queue.models import Job

__all__ = [
    "KEEP",
    "AlertsRepository",
    "AuditLog",
    "Cursors",
    "ExceptionsRepository",
    "JobScope",
    "LedgerRepository",
    "OrderLedger",
    "Outbox",
    "PaymentsRepository",
    "StockRepository",
    "Store",
    "Tx",
    "UnitOfWork",
]


class OrderLedger(Protocol):
    """The orders' ledger rows (``kind='order'``), typed."""

    def get(self, number: int, *, for_update: bool = False) -> OrderRecord | None:
        """The order's row, or None; ``for_update`` locks it until the unit of work ends."""
        ...

    def get_many(self, numbers: Iterable[int], *,
                 for_update: bool = False) -> dict[int, OrderRecord]:
        """The rows of many orders by number (locked in id order with ``for_update``)."""
        ...

    def save(self, number: int, *, state: OrderState, data: Mapping[str, Any],
             now: datetime, posted_hash: str | None = KEEP) -> OrderRecord:
        """Insert or replace the row (``version`` + 1); ``posted_hash`` kept unless given."""
        ...

    def mark(self, numbers: Iterable[int], patch: Mapping[str, Any], *, state: OrderState,
             now: datetime) -> int:
        """Set scalar top-level fields of many rows and move them to ``state``, unread."""
        ...

    def in_state(self, state: OrderState, *, limit: int | None = None) -> list[OrderRecord]:
        """The rows in ``state``, oldest row first."""
        ...

    def count_by_state(self) -> dict[str, int]:
        """How many orders are in each state."""
        ...


class LedgerRepository(Protocol):
    """Ledger rows of the other kinds (``sku`` catalogue rows, ``batch`` reports)."""

    def get(self, kind: str, key: str, *, for_update: bool = False) -> LedgerEntry | None: ...

    def save(self, kind: str, key: str, *, state: str, data: Mapping[str, Any],
             now: datetime) -> LedgerEntry: ...

    def in_state(self, kind: str, state: str) -> list[LedgerEntry]: ...

    def page(self, kind: str, *, after_id: int, limit: int) -> list[LedgerEntry]:
        """Up to ``limit`` entries of ``kind`` with an id above ``after_id``, in id order (key
        order for a streamed read in chunks)."""
        ...


class Cursors(Protocol):
    """Named cursors (watermarks), and named locks for compare-then-write on them."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str, *, now: datetime | None = None) -> None: ...

    def lock(self, name: str) -> None:
        """Serialise the units of work that take lock ``name`` until this one ends."""
        ...


class AuditLog(Protocol):
    """The append-only audit log."""

    def append(self, kind: str, key: str, action: str, actor: str,
               detail: Mapping[str, Any] | None = None, *,
               now: datetime | None = None) -> None: ...

    def for_entity(self, kind: str, key: str) -> list[dict[str, Any]]:
        """The entity's lines, oldest first (``at``, ``action``, ``actor``, ``detail``)."""
        ...


class ExceptionsRepository(Protocol):
    """Exceptions, their history, and the exception↔order relation (``exception_orders``)."""

    def raise_(self, *, type: str, owner: str, business_key: str, message: str,
               severity: str = "error", details: Mapping[str, Any] | None = None,
               payload: Mapping[str, Any] | None = None, job_id: int | None = None,
               attempts: int = 0, now: datetime | None = None) -> int:
        """Open one, or count a repeat of the open one for ``(type, business_key)``."""
        ...

    def resolve_for_key(self, business_key: str, *, types: Iterable[str] | None = None,
                        actor: str = "system", note: str = "",
                        now: datetime | None = None) -> list[int]: ...

    def resolve_ids(self, ids: Iterable[int], *, actor: str = "system", note: str = "",
                    now: datetime | None = None) -> list[int]: ...

    def close(self, exception_id: int, *, state: str, actor: str, note: str,
              now: datetime) -> ExceptionRecord:
        """A person resolves or skips an open exception (``SeamlineError`` if not open)."""
        ...

    def note(self, exception_id: int, action: str, actor: str, note: str, *,
             detail: Mapping[str, Any] | None = None, now: datetime) -> None:
        """Append one line to the exception's history."""
        ...

    def get(self, exception_id: int) -> ExceptionRecord | None:
        """One exception with its history and the orders it holds."""
        ...

    def find(self, *, state: str | None = "open", owner: str | None = None,
             type: str | None = None, business_key: str | None = None,
             business_keys: Sequence[str] = (), key_prefix: str | None = None,
             limit: int = 200, newest_first: bool = True,
             with_orders: bool = True) -> list[ExceptionRecord]:
        """Filtered by state, owner, type and key (``business_key``, any of ``business_keys``
        or under ``key_prefix``); ``with_orders=False``: the stored message, no orders."""
        ...

    def hold_order(self, exception_id: int, order_key: str, *,
                   now: datetime | None = None) -> bool: ...

    def release_order(self, order_key: str, *, keep: Iterable[int] = ()) -> list[int]:
        """Take the order off the exceptions holding it (but ``keep``); the ids of the open
        ones that now hold no order (locked)."""
        ...

    def lock_open(self, business_keys: Iterable[str] | None, *,
                  types: Iterable[str] | None = None) -> list[tuple[int, str, str]]:
        """Lock the open exceptions (by key order): ``(id, type, business_key)`` each."""
        ...

    def open_holds(self, *, types: Iterable[str] | None = None) -> list[Hold]: ...


class StockRepository(Protocol):
    """Stock: BlueCherry ATS as last read, the figures each Centra size should hold and what
    Centra confirmed, and the posted web demand Centra still holds allocated."""

    def save_ats(self, rows: Iterable[tuple[str, str, str, int]], *, cycle_id: int) -> int:
        """Upsert ``(warehouse, sku, upc, ats)`` rows read from cycle ``cycle_id``."""
        ...

    def ats(self, warehouses: Sequence[str],
            skus: Iterable[str] | None = None) -> dict[str, tuple[str, int]]:
        """SKU → (UPC, ATS summed over ``warehouses``); every SKU when ``skus`` is None."""
        ...

    def counted(self, as_of: Mapping[str, datetime],
                skus: Iterable[str] | None = None) -> dict[str, int]:
        """SKU → the units Centra holds allocated on web orders created at or before
        ``as_of[warehouse]`` (the cycle of each BlueCherry warehouse), less the units Centra
        shipped of orders created after it; warehouses not in ``as_of`` count nothing."""
        ...

    def set_demand(self, number: int, lines: Sequence[DemandLine], *,
                   now: datetime) -> list[tuple[str, str]]:
        """Replace the order's demand lines; the ``(warehouse, sku)`` pairs whose units
        changed. Units newly shipped by Centra lowered Centra's physical stock: those SKUs'
        sizes are sent again (what was pushed is no longer what Centra holds)."""
        ...

    def prune_demand(self, as_of: Mapping[str, datetime]) -> int:
        """Forget demand lines that can count nothing any more: no units allocated and created
        at or before ``as_of[warehouse]`` (cycles only move forward). How many went."""
        ...

    def demand_created_between(self, warehouse: str, after: datetime,
                               upto: datetime) -> set[str]:
        """SKUs of demand lines BlueCherry created in ``(after, upto]``: a cycle moving its
        ``as_of`` over them counts them from now on."""
        ...

    def demand_changed_since(self, since: datetime) -> set[tuple[str, str]]:
        """``(warehouse, sku)`` of demand lines changed at or after ``since``."""
        ...

    def save_targets(self, targets: Iterable[StockTarget], *, published_at: datetime | None,
                     now: datetime, resend: bool = False) -> int:
        """Upsert the targets, keeping what Centra confirmed and the sizes it did not know;
        ``resend`` forgets both, so every size is sent again (a full sync)."""
        ...

    def pending(self, centra_warehouse: int | None = None, *,
                limit: int | None = None) -> list[LevelRow]:
        """Sizes whose target differs from what Centra confirmed (unknown ones left out)."""
        ...

    def levels(self, centra_warehouse: int, skus: Iterable[str]) -> dict[str, LevelRow]: ...

    def mark_pushed(self, centra_warehouse: int, pushed: Iterable[tuple[str, int]], *,
                    now: datetime) -> None:
        """Record what Centra confirmed, size by size (``(sku, quantity)``)."""
        ...

    def mark_unknown(self, centra_warehouse: int, skus: Iterable[str], *,
                     now: datetime) -> None:
        """Sizes Centra does not know: left out of ``pending`` until their target is saved
        again by a full sync."""
        ...

    def summary(self) -> dict[str, int]:
        """``sizes``, ``pending``, ``unknown``, ``demand_units`` (for the CLI and dashboard)."""
        ...


class PaymentsRepository(Protocol):
    """Payments: Centra captures and refunds as recorded, the receipts and credit memos planned
    (payload frozen) and posted, and BlueCherry's invoices with the cash applied to each."""

    def add_records(self, records: Iterable[PaymentRecord], *, now: datetime) -> int:
        """Insert the records whose reference is new (a known one is left as it is); how many
        were new."""
        ...

    def pending_records(self, upto: date, *, market: str | None = None) -> list[PaymentRecord]:
        """Records on no document yet with a business day at or before ``upto`` (of one
        market), oldest capture first."""
        ...

    def records_for_orders(self, numbers: Iterable[int]) -> list[PaymentRecord]: ...

    def records_of(self, document: str) -> list[PaymentRecord]: ...

    def assign(self, documents: Mapping[str, str]) -> None:
        """Put records on receipts or memos (record reference → document reference)."""
        ...

    def save_documents(self, docs: Iterable[PaymentDocument], *, now: datetime) -> None:
        """Insert or replace receipts and memos."""
        ...

    def get_document(self, reference: str) -> PaymentDocument | None: ...

    def documents(self, *, day: date | None = None,
                  states: Iterable[str] | None = None) -> list[PaymentDocument]:
        """Receipts and memos (of business day ``day``, in ``states``), by reference."""
        ...

    def save_invoices(self, invoices: Iterable[InvoiceRecord]) -> int:
        """Mirror invoices not seen before (a known one keeps its applied cash); how many
        were new."""
        ...

    def invoices_for(self, customer_pos: Iterable[str]) -> dict[str, list[InvoiceRecord]]:
        """The invoices of each customer PO, oldest first."""
        ...

    def add_applied(self, amounts: Mapping[str, Money]) -> None:
        """Count cash Seamline applied (or took back, negative) per invoice number."""
class AlertsRepository(Protocol):
    """Alert deliveries: one per (alert key, destination), with its status and attempts."""

    def add(self, alert: Alert, destination: str, destination_hash: str, *,
            now: datetime, status: str = "pending") -> int | None:
        """A delivery of ``alert`` to the destination (``destination`` redacted,
        ``destination_hash`` identifies it), ``pending`` (to send) or ``grouped`` (told in a
        summary alert instead); None when that key went there already."""
        ...

    def has(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` have a delivery (to any destination)."""
        ...

    def get(self, delivery_id: int) -> AlertDelivery | None: ...

    def attempted(self, delivery_id: int, *, status: str, error: str = "",
                  now: datetime) -> None:
        """Record one attempt: ``sent`` (with the time), ``pending`` (to retry) or ``failed``."""
        ...

    def recent(self, *, limit: int = 50, owner: str | None = None) -> list[AlertDelivery]:
        """The newest deliveries first."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """Deliveries per (kind, status)."""
        ...


class Outbox(Protocol):
    """The job queue as a unit of work sees it: jobs enqueued commit with everything else."""

    def enqueue(self, task: str, args: Mapping[str, Any], *, queue: str | None = None,
                dedupe_key: str | None = None, business_key: str | None = None) -> int | None:
        """A new job, or None when a live job has ``dedupe_key``."""
        ...

    def requeue(self, job_id: int, *, now: datetime | None = None) -> bool:
        """Put a failed or cancelled job back (False when not possible)."""
        ...

    def next_due(self, queues: Sequence[str]) -> datetime | None:
        """When the first waiting (or running) job of ``queues`` may run; None when none."""
        ...

    def jobs_for(self, business_key: str, dedupe_keys: Sequence[str]) -> list[Job]:
        """The jobs with that business key or one of those dedupe keys, oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction's repositories."""

    @property
    def orders(self) -> OrderLedger: ...

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def exceptions(self) -> ExceptionsRepository: ...

    @property
    def cursors(self) -> Cursors: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def stock(self) -> StockRepository: ...

    @property
    def payments(self) -> PaymentsRepository: ...

    @property
    def alerts(self) -> AlertsRepository: ...


class JobScope(Protocol):
    """What a service needs of a running job: its id, its log and its lease."""

    @property
    def job(self) -> Job: ...

    @property
    def log(self) -> Any: ...

    def heartbeat(self) -> bool: ...


class Store(Protocol):
    """Opens units of work."""

    def begin(self) -> AbstractContextManager[UnitOfWork]:
        """A write unit of work (committed when the block ends cleanly)."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """A read unit of work (takes no write lock)."""
        ...

    def for_job(self, ctx: JobScope, *,
                complete: bool = False) -> AbstractContextManager[UnitOfWork]:
        """A write unit of work fenced by the job's lease; ``complete`` marks the job
        succeeded in it (effects and completion commit together)."""
        ...


#: Opens a write unit of work (``store.begin``, or a job's fenced ``store.for_job(ctx)``): what
#: every flow's steps take, so one job can commit its effects in several units of work.
Tx = Callable[[], AbstractContextManager[UnitOfWork]]
