"""An in-memory BlueCherry with the contract's semantics (``seamline.ports.BlueCherryGateway``).

It passes the same contract suite as the real client against the sandbox
(``tests/contract/test_bluecherry_contract.py``). What it does:

- validation on create with the contract's codes (every one except ``MALFORMED``, which a typed
  ``SalesOrder`` cannot produce), all failing details reported at once as ``Rejected``;
- ``customer_po`` unique per customer and ``external_reference`` unique company-wide: a repeat
  returns ``PostResult(created=False, order=<stored>)``, never a second order;
- look-ups, ``updated_since``, cancel with an idempotent ``reference`` (picked/shipped units →
  ``Conflict`` ``LINE_PICKED_OR_SHIPPED``; more than exists → ``Rejected``);
- receipts and credit memos keyed by ``reference``; ATS cycles, shipments and invoices the test
  puts in (``publish_ats``, ``add_shipment``, ``add_invoice``);
- inspectable state (``orders``, ``calls``), ``reset()``, a person's edit (``edit_order``),
  warehouse moves (``pick``, ``ship``), and fault knobs: ``fail_next(n, kind, op=None)``.

Fault kinds: ``timeout`` (a write is *not* applied; raises ``AmbiguousWrite``; reads raise
``TransientError``), ``commit-then-timeout`` (a write is applied, then ``AmbiguousWrite``),
``server-error`` (like ``timeout``, with status 503), ``rate-limit`` (``RateLimited``,
``retry_after`` 1 s, nothing applied), ``auth`` (``AuthFailed``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from seamline.domain import bluecherry_rules as rules
from seamline.domain.bluecherry_rules import Detail
from seamline.domain.erp import (
    AtsCycle,
    AtsItem,
    CashApplication,
    CashReceipt,
    CatalogueItem,
    CreditMemo,
    ErpInvoice,
    ErpOrderLine,
    ErpSalesOrder,
    ErpShipment,
    MasterData,
    PostResult,
    WriteResult,
    normalise_gtin,
)
from seamline.domain.money import Money
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import (
    AmbiguousWrite,
    AuthFailed,
    Conflict,
    NotFound,
    RateLimited,
    Rejected,
    TransientError,
)
from seamline.ports import Clock

__all__ = ["FakeBlueCherry", "FaultKind", "validate_sales_order"]

FaultKind = Literal["timeout", "commit-then-timeout", "server-error", "rate-limit", "auth"]
_WRITES = frozenset({"create_sales_order", "cancel_sales_order", "post_cash_receipt",
                     "post_credit_memo"})
SYSTEM = "bluecherry"


class _StepClock:
    """Real UTC time, but strictly increasing between calls (stable ``updated_since``)."""

    def __init__(self) -> None:
        self._last = datetime(1970, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        t = datetime.now(UTC)
        if t <= self._last:
            t = self._last + timedelta(microseconds=1)
        self._last = t
        return t


@dataclass
class _Fault:
    remaining: int
    kind: FaultKind
    op: str | None


@dataclass
class _State:
    orders: dict[str, ErpSalesOrder] = field(default_factory=dict)
    by_reference: dict[str, str] = field(default_factory=dict)
    by_po: dict[tuple[str, str], str] = field(default_factory=dict)
    cancels: dict[str, ErpSalesOrder] = field(default_factory=dict)
    receipts: dict[str, CashReceipt] = field(default_factory=dict)
    memos: dict[str, CreditMemo] = field(default_factory=dict)
    ats: dict[str, list[tuple[AtsCycle, list[AtsItem]]]] = field(default_factory=dict)
    shipments: list[ErpShipment] = field(default_factory=list)
    invoices: list[ErpInvoice] = field(default_factory=list)
    #: invoice number → invoice (the feed's index)
    invoice_by_no: dict[str, ErpInvoice] = field(default_factory=dict)
    #: invoice number → amount applied by receipts so far
    applied: dict[str, Money] = field(default_factory=dict)
    #: credit memo reference → the day it was created (what ``list_credit_memos`` filters on)
    memo_days: dict[str, date] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    seq: int = 0


def _line_details(order: SalesOrder, skus: dict[str, CatalogueItem],
                  upcs: dict[str, CatalogueItem]) -> list[Detail]:
    out: list[Detail] = []
    seen: set[int] = set()
    for i, ln in enumerate(order.lines):
        fld = f"lines[{i}]"
        out += rules.line_no_details(fld, ln.line_no, seen)
        by_upc = upcs.get(normalise_gtin(ln.upc)) if ln.upc else None
        by_sku = skus.get(ln.sku) if ln.sku else None
        item = by_upc if ln.upc else by_sku
        if item is None or (ln.upc and ln.sku and by_sku is not item):
            out.append(rules.detail(f"{fld}.upc", "UNKNOWN_SKU",
                                    f"no SKU has UPC {ln.upc!r} / SKU {ln.sku!r}"))
        out += rules.amounts_details(
            [(i, ln.quantity, ln.unit_price.amount, ln.discount.amount, ln.tax.amount)], [])
    return out + rules.amounts_details(
        [], ((c.amount.amount, c.tax.amount) for c in order.charges))


def validate_sales_order(
    order: SalesOrder, master: MasterData, skus: dict[str, CatalogueItem],
    upcs: dict[str, CatalogueItem],
) -> list[dict[str, str]]:
    """The contract's 422 details for an order (empty when BlueCherry would accept it), by the
    rules written once in ``seamline.domain.bluecherry_rules`` (the sandbox uses them too)."""
    header = rules.Header(
        customer_po=order.customer_po, division=order.division, warehouse=order.warehouse,
        customer=order.customer, store=order.store, ship_via=order.ship_via,
        order_type=order.order_type, terms=order.terms, currency=order.currency)
    out = rules.header_details(header, rules.Codes.from_master(master))
    out += rules.date_details(order.start_date, order.cancel_date)
    out += rules.lines_details(len(order.lines))
    out += _line_details(order, skus, upcs)
    expected = rules.expected_totals(
        ((ln.unit_price.amount, ln.quantity, ln.discount.amount, ln.tax.amount)
         for ln in order.lines),
        ((c.amount.amount, c.tax.amount) for c in order.charges),
        prices_include_tax=order.prices_include_tax)
    declared = {name: getattr(order.totals, name).amount for name in rules.TOTAL_FIELDS}
    return out + rules.totals_details(declared, expected)


class FakeBlueCherry:
    """In-memory ``BlueCherryGateway`` (thread-safe; one lock around everything)."""

    def __init__(self, master: MasterData | None = None,
                 catalogue: Sequence[CatalogueItem] = (), *, clock: Clock | None = None,
                 key_name: str = "seamline") -> None:
        self.master = master or MasterData()
        self.catalogue = tuple(catalogue)
        self._skus = {c.sku: c for c in self.catalogue}
        self._upcs = {c.gtin14: c for c in self.catalogue if c.gtin14}
        self.clock: Clock = clock or _StepClock()
        self.key_name = key_name
        self._lock = threading.RLock()
        self.state = _State()

    # -- inspection and knobs ---------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.state = _State()

    @property
    def orders(self) -> dict[str, ErpSalesOrder]:
        """Every stored order by order number (a copy)."""
        with self._lock:
            return dict(self.state.orders)

    @property
    def calls(self) -> list[str]:
        with self._lock:
            return list(self.state.calls)

    def count_by_external_reference(self, reference: str) -> int:
        with self._lock:
            return sum(1 for o in self.state.orders.values()
                       if o.external_reference == reference)

    def fail_next(self, n: int, kind: FaultKind, *, op: str | None = None) -> None:
        """Make the next ``n`` calls (of method ``op``, or any) fail with ``kind``."""
        with self._lock:
            self.state.faults.append(_Fault(n, kind, op))

    def _fault(self, op: str) -> _Fault | None:
        self.state.calls.append(op)
        for f in self.state.faults:
            if f.remaining > 0 and (f.op is None or f.op == op):
                f.remaining -= 1
                if f.remaining == 0:
                    self.state.faults.remove(f)
                return f
        return None

    def _raise_before(self, op: str) -> FaultKind | None:
        """Raise the fault for ``op`` unless it is commit-then-timeout (returned instead)."""
        f = self._fault(op)
        if f is None:
            return None
        write = op in _WRITES
        if f.kind == "auth":
            raise AuthFailed(f"{op}: credentials refused (fault)", system=SYSTEM, status=401)
        if f.kind == "rate-limit":
            raise RateLimited(f"{op}: 429 (fault)", system=SYSTEM, status=429, retry_after=1.0)
        if f.kind == "commit-then-timeout" and write:
            return f.kind
        status = 503 if f.kind == "server-error" else None
        if write:
            raise AmbiguousWrite(f"{op}: no answer (fault)", system=SYSTEM, status=status)
        raise TransientError(f"{op}: no answer (fault)", system=SYSTEM, status=status)

    @staticmethod
    def _after_commit(kind: FaultKind | None, op: str) -> None:
        if kind == "commit-then-timeout":
            raise AmbiguousWrite(f"{op}: applied, but the answer was lost (fault)",
                                 system=SYSTEM)

    # -- warehouse and people (test drivers) ---------------------------------------------------

    def _update(self, order_no: str, by: str, **changes: Any) -> ErpSalesOrder:
        with self._lock:
            o = self.state.orders.get(order_no)
            if o is None:
                raise NotFound(f"sales order {order_no} not found", system=SYSTEM, status=404)
            new = replace(o, updated_at=self.clock.now(), updated_by=by, **changes)
            self.state.orders[order_no] = new
            return new

    def _move(self, order_no: str, line_no: int, quantity: int, attr: str) -> ErpSalesOrder:
        o = self.get_sales_order(order_no)
        lines = tuple(
            replace(ln, **{attr: getattr(ln, attr) + quantity}) if ln.line_no == line_no else ln
            for ln in o.lines
        )
        status = "PICKED" if attr == "picked_quantity" else "SHIPPED"
        return self._update(order_no, "system:warehouse", lines=lines, status=status)

    def pick(self, order_no: str, line_no: int, quantity: int) -> ErpSalesOrder:
        """The warehouse picks units of a line (they stop being open)."""
        return self._move(order_no, line_no, quantity, "picked_quantity")

    def ship(self, order_no: str, line_no: int, quantity: int) -> ErpSalesOrder:
        return self._move(order_no, line_no, quantity, "shipped_quantity")

    def edit_order(self, order_no: str, *, login: str = "anna", **changes: Any) -> ErpSalesOrder:
        """A person edits the order in BlueCherry (``updated_by: user:<login>``)."""
        return self._update(order_no, f"user:{login}", **changes)

    def publish_ats(self, warehouse: str, cycle: AtsCycle, items: Sequence[AtsItem]) -> None:
        """Publish a cycle's full snapshot for a warehouse (deltas are computed from them)."""
        with self._lock:
            self.state.ats.setdefault(warehouse, []).append((cycle, list(items)))

    def add_shipment(self, shipment: ErpShipment) -> None:
        with self._lock:
            self.state.shipments.append(shipment)

    def dispatch(self, order_no: str, lines: Sequence[tuple[int, int]] | None = None, *,
                 cartons: int = 1, short: bool = False) -> ErpShipment:
        """The warehouse ships units onto the feed (``seamline.testing.warehouse.dispatch``)."""
        from seamline.testing.warehouse import dispatch  # noqa: PLC0415 - it imports this

        return dispatch(self, order_no, lines, cartons=cartons, short=short)

    def add_invoice(self, invoice: ErpInvoice) -> None:
        with self._lock:
            self.state.invoices.append(invoice)
            self.state.invoice_by_no[invoice.invoice_no] = invoice

    # -- the port --------------------------------------------------------------------------------

    def create_sales_order(self, order: SalesOrder) -> PostResult:
        op = "create_sales_order"
        with self._lock:
            kind = self._raise_before(op)
            existing_no = self.state.by_reference.get(order.external_reference)
            code = "DUPLICATE_EXTERNAL_REFERENCE"
            if existing_no is None:
                existing_no = self.state.by_po.get((order.customer, order.customer_po))
                code = "DUPLICATE_CUSTOMER_PO"
            if existing_no is not None:
                return PostResult(created=False, order=self.state.orders[existing_no],
                                  duplicate_code=code)
            problems = validate_sales_order(order, self.master, self._skus, self._upcs)
            if problems:
                raise Rejected(
                    f"{op}: HTTP 422 VALIDATION_FAILED: "
                    + ", ".join(p["code"] for p in problems),
                    system=SYSTEM, status=422, codes=problems, code="VALIDATION_FAILED",
                )
            self.state.seq += 1
            order_no = f"SO-{self.state.seq:06d}"
            now = self.clock.now()
            stored = _stored(order, order_no, now, f"api:{self.key_name}", skus=self._skus,
                             upcs=self._upcs)
            self.state.orders[order_no] = stored
            self.state.by_reference[order.external_reference] = order_no
            self.state.by_po[(order.customer, order.customer_po)] = order_no
            self._after_commit(kind, op)
            return PostResult(created=True, order=stored)

    def find_by_external_reference(self, reference: str) -> ErpSalesOrder | None:
        with self._lock:
            self._raise_before("find_by_external_reference")
            no = self.state.by_reference.get(reference)
            return self.state.orders[no] if no else None

    def find_by_customer_po(self, customer_po: str, customer: str) -> ErpSalesOrder | None:
        with self._lock:
            self._raise_before("find_by_customer_po")
            no = self.state.by_po.get((customer, customer_po))
            return self.state.orders[no] if no else None

    def get_sales_order(self, order_no: str) -> ErpSalesOrder:
        with self._lock:
            self._raise_before("get_sales_order")
            o = self.state.orders.get(order_no)
            if o is None:
                raise NotFound(f"sales order {order_no} not found", system=SYSTEM, status=404)
            return o

    def iter_sales_orders_updated_since(self, since: datetime) -> Iterator[ErpSalesOrder]:
        with self._lock:
            self._raise_before("iter_sales_orders_updated_since")
            found = sorted((o for o in self.state.orders.values() if o.updated_at >= since),
                           key=lambda o: (o.updated_at, o.order_no))
        return iter(found)

    def cancel_sales_order(
        self, order_no: str, *, reference: str, lines: Sequence[tuple[int, int]] | None,
        reason: str,
    ) -> ErpSalesOrder:
        op = "cancel_sales_order"
        with self._lock:
            kind = self._raise_before(op)
            if reference in self.state.cancels:
                stored = self.state.cancels[reference]
                if stored.order_no != order_no:
                    raise Conflict(f"{op}: HTTP 409 DUPLICATE_REFERENCE", system=SYSTEM,
                                   status=409, code="DUPLICATE_REFERENCE")
                return stored
            o = self.state.orders.get(order_no)
            if o is None:
                raise NotFound(f"sales order {order_no} not found", system=SYSTEM, status=404)
            by_no = {ln.line_no: ln for ln in o.lines}
            asked = ([(ln.line_no, ln.open_quantity) for ln in o.lines] if lines is None
                     else list(lines))
            if lines is None and not any(q for _, q in asked) and any(
                    ln.picked_quantity or ln.shipped_quantity for ln in o.lines):
                raise Conflict(f"{op}: HTTP 409 LINE_PICKED_OR_SHIPPED", system=SYSTEM,
                               status=409, code="LINE_PICKED_OR_SHIPPED")
            new_lines = dict(by_no)
            for line_no, qty in asked:
                ln = new_lines.get(line_no)
                if ln is None or qty < 0:
                    raise Rejected(f"{op}: HTTP 422 BAD_LINE_NO", system=SYSTEM, status=422,
                                   codes=[{"field": "lines", "code": "BAD_LINE_NO"}])
                if qty > ln.open_quantity:
                    if qty <= ln.ordered_quantity - ln.cancelled_quantity:
                        raise Conflict(f"{op}: HTTP 409 LINE_PICKED_OR_SHIPPED", system=SYSTEM,
                                       status=409, code="LINE_PICKED_OR_SHIPPED")
                    raise Rejected(f"{op}: HTTP 422 BAD_QUANTITY", system=SYSTEM, status=422,
                                   codes=[{"field": "lines", "code": "BAD_QUANTITY"}])
                new_lines[line_no] = replace(ln, cancelled_quantity=ln.cancelled_quantity + qty)
            final = tuple(new_lines[n] for n in by_no)
            all_cancelled = all(ln.cancelled_quantity == ln.ordered_quantity for ln in final)
            status = "CANCELLED" if all_cancelled else o.status
            new = replace(o, lines=final, status=status, updated_at=self.clock.now(),
                          updated_by=f"api:{self.key_name}")
            self.state.orders[order_no] = new
            self.state.cancels[reference] = new
            self._after_commit(kind, op)
            return new

    def master_data(self) -> MasterData:
        with self._lock:
            self._raise_before("master_data")
            return self.master

    def iter_skus(self, updated_since: datetime | None = None) -> Iterator[CatalogueItem]:
        with self._lock:
            self._raise_before("iter_skus")
        return iter(self.catalogue)

    # -- later flows ----

    def iter_ats(self, warehouse: str, changed_since_cycle: int | None = None
                 ) -> tuple[AtsCycle, list[AtsItem]]:
        with self._lock:
            self._raise_before("iter_ats")
            cycles = self.state.ats.get(warehouse, [])
            if not cycles:
                raise NotFound(f"no ATS cycle for warehouse {warehouse}", system=SYSTEM)
            latest, items = cycles[-1]
            if changed_since_cycle is None:
                return latest, list(items)
            before = {i.sku: i for c, its in cycles if c.id <= changed_since_cycle
                      for i in its}  # the figures as of that cycle (later cycles override)
            return latest, [i for i in items if before.get(i.sku) != i]

    @staticmethod
    def _feed(records: Sequence[Any], since: str | None) -> tuple[list[Any], str]:
        start = int(since or 0)
        return list(records[start:]), str(len(records))

    def iter_shipments(self, since: str | None = None) -> tuple[list[ErpShipment], str]:
        with self._lock:
            self._raise_before("iter_shipments")
            return self._feed(self.state.shipments, since)

    def iter_invoices(self, since: str | None = None) -> tuple[list[ErpInvoice], str]:
        with self._lock:
            self._raise_before("iter_invoices")
            return self._feed(self.state.invoices, since)

    def post_cash_receipt(self, receipt: CashReceipt) -> WriteResult[CashReceipt]:
        """As the sandbox: an application names an invoice (or only a PO: spread over that
        PO's invoices); unknown → ``UNKNOWN_INVOICE``; more than invoiced → ``OVERAPPLIED``."""
        op = "post_cash_receipt"
        with self._lock:
            kind = self._raise_before(op)
            stored = self.state.receipts.get(receipt.reference)
            if stored is not None:
                return WriteResult(created=False, record=stored)
            planned, resolved, details = self._plan_applications(receipt)
            applied = sum((a.amount for a in receipt.applications), Money.zero(receipt.currency))
            if applied.amount > receipt.amount.amount:
                details.append({"field": "applications", "code": "OVERAPPLIED",
                                "message": "applications exceed the receipt"})
            if details:
                codes = {d["code"] for d in details}
                code = details[0]["code"] if len(codes) == 1 else "VALIDATION_FAILED"
                raise Rejected(f"{op}: HTTP 422 {code}", system=SYSTEM, status=422,
                               codes=details, code=code)
            for no, v in planned.items():
                self.state.applied[no] = v
            stored = replace(receipt, applications=tuple(resolved),
                             unapplied=receipt.amount - applied)
            self.state.receipts[receipt.reference] = stored
            self._after_commit(kind, op)
            return WriteResult(created=True, record=stored)

    def _plan_applications(self, receipt: CashReceipt) -> tuple[
            dict[str, Money], list[CashApplication], list[dict[str, str]]]:
        invoices = self.state.invoice_by_no
        planned: dict[str, Money] = {}
        resolved: list[CashApplication] = []
        details: list[dict[str, str]] = []
        for n, app in enumerate(receipt.applications):
            fld = f"applications[{n}]"
            if app.invoice_no:
                inv = invoices.get(app.invoice_no)
                targets = [] if inv is None or (app.customer_po and inv.customer_po
                                                != app.customer_po) else [inv]
            else:
                targets = [i for i in self.state.invoices if i.customer_po == app.customer_po]
            if not targets:
                details.append({"field": fld, "code": "UNKNOWN_INVOICE",
                                "message": f"no invoice for {app.customer_po or app.invoice_no}"})
                continue
            left = app.amount
            for inv in targets:
                before = planned.get(inv.invoice_no, self.state.applied.get(
                    inv.invoice_no, Money.zero(inv.currency)))
                room = inv.total - before
                take = left if len(targets) == 1 else (room if room.amount < left.amount
                                                       else left)
                if take.amount <= 0:
                    continue
                planned[inv.invoice_no] = before + take
                resolved.append(CashApplication(customer_po=inv.customer_po,
                                                invoice_no=inv.invoice_no, amount=take))
                left = left - take
                if left.amount == 0:
                    break
            if left.amount > 0 or any(planned[i.invoice_no].amount > i.total.amount
                                      for i in targets if i.invoice_no in planned):
                details.append({"field": fld, "code": "OVERAPPLIED",
                                "message": "more would be applied than is invoiced"})
        return planned, resolved, details

    def post_credit_memo(self, memo: CreditMemo) -> WriteResult[CreditMemo]:
        op = "post_credit_memo"
        with self._lock:
            kind = self._raise_before(op)
            stored = self.state.memos.get(memo.reference)
            if stored is not None:
                return WriteResult(created=False, record=stored)
            if memo.invoice_no and memo.invoice_no not in self.state.invoice_by_no:
                raise Rejected(f"{op}: HTTP 422 UNKNOWN_INVOICE", system=SYSTEM, status=422,
                               codes=[{"field": "invoice_no", "code": "UNKNOWN_INVOICE"}],
                               code="UNKNOWN_INVOICE")
            stored = replace(memo, memo_no=memo.memo_no or f"CM-{len(self.state.memos) + 1:06d}")
            self.state.memos[memo.reference] = stored
            self.state.memo_days[memo.reference] = self.clock.now().date()
            self._after_commit(kind, op)
            return WriteResult(created=True, record=stored)

    def list_cash_receipts(self, day: date) -> list[CashReceipt]:
        with self._lock:
            self._raise_before("list_cash_receipts")
            return [r for r in self.state.receipts.values() if r.receipt_date == day]

    def list_credit_memos(self, day: date) -> list[CreditMemo]:
        """Memos created on ``day`` (the sandbox's reading of the assumed listing)."""
        with self._lock:
            self._raise_before("list_credit_memos")
            return [m for ref, m in self.state.memos.items()
                    if self.state.memo_days.get(ref) == day]

    def iter_cash_receipts(self, day: date) -> Iterator[CashReceipt]:
        yield from self.list_cash_receipts(day)

    def iter_credit_memos(self, day: date) -> Iterator[CreditMemo]:
        yield from self.list_credit_memos(day)

    def iter_invoice_pages(self, since: str | None = None
                           ) -> Iterator[tuple[list[ErpInvoice], str]]:
        """The whole rest of the feed as one page (the fake has no page size)."""
        yield self.iter_invoices(since)


def _stored(order: SalesOrder, order_no: str, now: datetime, by: str, *,
            skus: dict[str, CatalogueItem], upcs: dict[str, CatalogueItem]) -> ErpSalesOrder:
    lines = []
    for ln in order.lines:
        item = upcs.get(normalise_gtin(ln.upc)) if ln.upc else skus.get(ln.sku)
        lines.append(ErpOrderLine(
            line_no=ln.line_no, sku=item.sku if item else ln.sku,
            upc=item.upc if item else ln.upc, ordered_quantity=ln.quantity,
            unit_price=ln.unit_price, discount=ln.discount, tax=ln.tax,
        ))
    raw = {k: v for k, v in order.to_dict().items() if k != "conversion_rate"}
    raw.update(order_no=order_no, status="OPEN", created_at=now.isoformat(),
               updated_at=now.isoformat(), updated_by=by)
    return ErpSalesOrder(
        order_no=order_no, status="OPEN", customer_po=order.customer_po,
        external_reference=order.external_reference, customer=order.customer,
        division=order.division, warehouse=order.warehouse, store=order.store,
        currency=order.currency, ship_via=order.ship_via, lines=tuple(lines),
        total=order.totals.total, tax=order.totals.tax, created_at=now, updated_at=now,
        updated_by=by, raw=raw,
    )

