"""Drift detection and the two ways out of it: accept BlueCherry's version, or correct from
Centra as far as the contract allows (see ``seamline.domain.drift`` for the rules).

The scan reads ``GET /sales-orders?updated_since=`` from a cursor (BlueCherry's own
``updated_at`` of the last order read, re-read inclusively: a second look at an order is
harmless). Each order Seamline posted is compared with its frozen payload; a difference is one
``ORDER_DRIFT`` exception per order (key ``order:<n>:drift``) with the field-by-field diff in its
details. The same drift seen again changes nothing; a later edit replaces the diff; an order
that matches again resolves it. The order's drift ledger row (``kind='drift'``) keeps the last
diff and the version a person accepted (or Seamline corrected), which later scans do not raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from seamline.domain.drift import (
    FieldDiff,
    correction_plan,
    drift_rows,
    editor_kind,
    fingerprint,
    is_accepted,
    owner_for,
)
from seamline.domain.erp import ErpSalesOrder
from seamline.domain.exception_keys import OrderKey
from seamline.domain.exception_records import ExceptionRecord
from seamline.domain.ledger import OrderRecord
from seamline.exceptions import Conflict, NotFound, Rejected, SeamlineError
from seamline.ports import BlueCherryGateway
from seamline.services.unit_of_work import Store, Tx, UnitOfWork

__all__ = ["CURSOR", "EXCEPTION", "KIND", "DriftService", "ScanResult", "drift_key"]

#: The exception type, the drift ledger kind and the scan's cursor.
EXCEPTION = "ORDER_DRIFT"
KIND = "drift"
CURSOR = "bluecherry.orders.updated_since"
#: Orders compared per unit of work.
CHUNK = 200


def drift_key(number: int) -> str:
    """``order:<n>:drift``: one drift exception per order."""
    return str(OrderKey(number, "drift"))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScanResult:
    read: int = 0
    compared: int = 0
    raised: int = 0
    updated: int = 0
    resolved: int = 0
    cursor: str | None = None


@dataclass
class _Counts:
    raised: int = 0
    updated: int = 0
    resolved: int = 0


def number_of(external_reference: str) -> int | None:
    """The Centra order number in ``centra:<store>:<number>``, or None (not Seamline's)."""
    if not external_reference.startswith("centra:"):
        return None
    tail = external_reference.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


@dataclass
class DriftService:
    """Scan, check one order, accept, correct. Built by the composition root."""

    store: Store
    erp: BlueCherryGateway
    #: The first scan (no cursor yet) reads orders changed this far back.
    first_lookback: timedelta = timedelta(hours=48)
    clock: Callable[[], datetime] = _now
    _counts: _Counts = field(default_factory=_Counts, repr=False)

    # -- detection -------------------------------------------------------------------------------

    def scan(self, tx: Tx | None = None) -> ScanResult:
        """Read every BlueCherry order changed since the cursor; raise, update or resolve
        ``ORDER_DRIFT`` for the ones Seamline posted. The cursor moves with each chunk."""
        begin = tx or self.store.begin
        with self.store.read() as uow:
            raw = uow.cursors.get(CURSOR)
        since = (datetime.fromisoformat(raw) if raw
                 else self.clock() - self.first_lookback)
        self._counts = _Counts()
        read = compared = 0
        chunk: list[ErpSalesOrder] = []
        cursor = raw
        for order in self.erp.iter_sales_orders_updated_since(since):
            read += 1
            chunk.append(order)
            if len(chunk) >= CHUNK:
                compared += self._check_chunk(begin, chunk)
                cursor = self._advance(begin, chunk, cursor)
                chunk = []
        if chunk:
            compared += self._check_chunk(begin, chunk)
            cursor = self._advance(begin, chunk, cursor)
        c = self._counts
        return ScanResult(read, compared, c.raised, c.updated, c.resolved, cursor)

    def _advance(self, begin: Tx, chunk: list[ErpSalesOrder], cursor: str | None) -> str | None:
        latest = max(o.updated_at for o in chunk)
        if cursor is not None and datetime.fromisoformat(cursor) >= latest:
            return cursor
        with begin() as uow:
            uow.cursors.set(CURSOR, latest.isoformat(), now=self.clock())
        return latest.isoformat()

    def _check_chunk(self, begin: Tx, chunk: list[ErpSalesOrder]) -> int:
        by_number = {n: o for o in chunk if (n := number_of(o.external_reference)) is not None}
        if not by_number:
            return 0
        n = 0
        with begin() as uow:
            rows = uow.orders.get_many(sorted(by_number))
            for number, order in sorted(by_number.items()):
                row = rows.get(number)
                if row is not None and self._posted_as(row, order):
                    self._check_in(uow, row, order)
                    n += 1
        return n

    @staticmethod
    def _posted_as(row: OrderRecord, order: ErpSalesOrder) -> bool:
        frozen = row.data.frozen
        return (row.state.in_bluecherry and frozen is not None
                and row.data.order_no == order.order_no
                and frozen.get("external_reference") == order.external_reference)

    def check_order(self, number: int) -> list[FieldDiff]:
        """Compare one posted order now (``seamline orders drift --order N``): the diff, empty
        when BlueCherry says what was posted (or a person accepted what it says)."""
        with self.store.read() as uow:
            row = uow.orders.get(number)
        if row is None or not row.state.in_bluecherry or not row.data.order_no:
            raise NotFound(f"order {number} is not posted to BlueCherry (ledger state "
                           f"{row.state if row else 'unknown'})")
        order = self.erp.get_sales_order(row.data.order_no)
        with self.store.begin() as uow:
            return self._check_in(uow, row, order)

    def _check_in(self, uow: UnitOfWork, row: OrderRecord, order: ErpSalesOrder
                  ) -> list[FieldDiff]:
        frozen = row.data.frozen or {}
        now = self.clock()
        key = drift_key(row.number)
        entry = uow.ledger.get(KIND, row.key, for_update=True)
        data: dict[str, Any] = dict(entry.data) if entry else {}
        accepted = data.get("accepted")
        rows = [] if is_accepted(accepted, order) else drift_rows(frozen, order)
        fp = fingerprint(order)
        version = {"fingerprint": fp, "updated_at": order.updated_at.isoformat(),
                   "updated_by": order.updated_by}
        # An open ORDER_DRIFT always has its drift row in state "drift" (raising writes it;
        # accept, correct and a clean scan move it on): a clean order costs no exception query.
        open_ = (uow.exceptions.find(type=EXCEPTION, business_key=key, limit=1,
                                     with_orders=False)
                 if entry is not None and entry.state == "drift" else [])
        if not rows:
            edits = list((open_[0].details or {}).get("diff", [])) if open_ else []
            if edits and all(d.get("area") == "edit" for d in edits):
                # A person's change that nothing compared shows (units cancelled by hand)
                # still stands after BlueCherry's processes move on: it waits for a choice.
                return []
            if open_:
                uow.exceptions.resolve_ids(
                    [open_[0].id], actor="system", now=now,
                    note=("the accepted version" if accepted and is_accepted(accepted, order)
                          else "BlueCherry says what Seamline posted again"))
                self._counts.resolved += 1
            if entry is not None and entry.state == "drift":
                # Only orders that drifted keep a drift row: a clean scan writes nothing else.
                uow.ledger.save(KIND, row.key, state="clean",
                                data={**data, **version, "diff": []}, now=now)
            return []
        same = bool(open_) and (open_[0].details or {}).get("version") == version
        if not same:
            owner = owner_for(rows)
            uow.exceptions.raise_(
                type=EXCEPTION, owner=owner, business_key=key, severity="warning",
                message=_message(row.number, order, rows),
                details={"order": row.number, "order_no": order.order_no,
                         "editor": editor_kind(order.updated_by), "version": version,
                         "diff": [r.to_dict() for r in rows]},
                now=now)
            uow.audit.append(KIND, row.key, "drift_detected", "system",
                             {"order_no": order.order_no, "owner": owner, **version,
                              "fields": [r.field for r in rows]}, now=now)
            if open_:
                self._counts.updated += 1
            else:
                self._counts.raised += 1
        uow.ledger.save(KIND, row.key, state="drift",
                        data={**data, **version, "diff": [r.to_dict() for r in rows]}, now=now)
        return rows

    # -- the choices on an ORDER_DRIFT exception -------------------------------------------------

    def _open_drift(self, uow: UnitOfWork, exception_id: int) -> tuple[ExceptionRecord, int]:
        found = uow.exceptions.get(exception_id)
        if found is None:
            raise NotFound(f"exception {exception_id} does not exist")
        if found.type != EXCEPTION:
            raise SeamlineError(f"exception {exception_id} is {found.type}, not {EXCEPTION}")
        if found.state != "open":
            raise SeamlineError(f"exception {exception_id} is {found.state}, not open")
        return found, int((found.details or {})["order"])

    def accept(self, exception_id: int, *, actor: str, note: str = "") -> ExceptionRecord:
        """Record BlueCherry's version as a known adjustment (stored on the drift row and in
        the audit log) and resolve the exception; later scans do not raise that version."""
        now = self.clock()
        with self.store.begin() as uow:
            found, number = self._open_drift(uow, exception_id)
            details = found.details or {}
            version = dict(details.get("version") or {})
            entry = uow.ledger.get(KIND, str(number), for_update=True)
            data = dict(entry.data) if entry else {}
            accepted = {**version, "by": actor, "at": now.isoformat(), "note": note,
                        "how": "accepted", "diff": details.get("diff", [])}
            uow.ledger.save(KIND, str(number), state="accepted",
                            data={**data, "accepted": accepted,
                                  "adjustments": [*data.get("adjustments", []), accepted]},
                            now=now)
            uow.audit.append(KIND, str(number), "drift_accepted", actor,
                             {"exception_id": exception_id, "note": note, **version}, now=now)
            return uow.exceptions.close(
                exception_id, state="resolved", actor=actor, now=now,
                note=note or "BlueCherry's version accepted as a known adjustment")

    def correct(self, exception_id: int, *, actor: str, note: str = "") -> Correction:
        """Correct from Centra what the contract allows: cancel the open units BlueCherry
        holds beyond what was posted. BlueCherry offers no update call, so anything else
        (prices, codes, addresses, fewer units, a hold) needs a person in BlueCherry: the
        exception stays open with those fields as instructions."""
        with self.store.read() as uow:
            _, number = self._open_drift(uow, exception_id)
            row = uow.orders.get(number)
        if row is None or not row.data.order_no or row.data.frozen is None:
            raise NotFound(f"order {number} has no posted payload on the ledger")
        order = self.erp.get_sales_order(row.data.order_no)
        frozen = row.data.frozen
        rows = drift_rows(frozen, order)
        plan = correction_plan(frozen, order, rows)
        error = ""
        if plan.cancels:
            reference = f"drift:{number}:{fingerprint(order)[:16]}"
            try:
                order = self.erp.cancel_sales_order(
                    order.order_no, reference=reference, lines=list(plan.cancels),
                    reason=f"Seamline: units added in BlueCherry, not in Centra ({actor})")
            except (Conflict, Rejected) as exc:
                error = str(exc)
        now = self.clock()
        done = not plan.left and not error
        with self.store.begin() as uow:
            uow.audit.append(KIND, str(number), "drift_corrected", actor,
                             {"exception_id": exception_id, "note": note, "error": error,
                              "cancels": [list(c) for c in plan.cancels],
                              "left": [r.to_dict() for r in plan.left]}, now=now)
            if done:
                entry = uow.ledger.get(KIND, str(number), for_update=True)
                data = dict(entry.data) if entry else {}
                corrected = {"fingerprint": fingerprint(order),
                             "updated_at": order.updated_at.isoformat(),
                             "updated_by": order.updated_by, "by": actor,
                             "at": now.isoformat(), "note": note, "how": "corrected",
                             "cancels": [list(c) for c in plan.cancels]}
                uow.ledger.save(KIND, str(number), state="corrected",
                                data={**data, "accepted": corrected,
                                      "adjustments": [*data.get("adjustments", []),
                                                      corrected]}, now=now)
                uow.exceptions.close(
                    exception_id, state="resolved", actor=actor, now=now,
                    note=(note or "") + f" cancelled in BlueCherry: {_units(plan.cancels)}")
            else:
                uow.exceptions.note(exception_id, "correction", actor,
                                    _instructions(order.order_no, plan, error),
                                    detail={"cancels": [list(c) for c in plan.cancels],
                                            "left": [r.to_dict() for r in plan.left],
                                            "error": error}, now=now)
        return Correction(done=done, cancels=plan.cancels, left=plan.left, error=error,
                          instructions="" if done else _instructions(order.order_no, plan,
                                                                     error))

    def open_drifts(self, number: int | None = None) -> list[ExceptionRecord]:
        """Open ``ORDER_DRIFT`` exceptions (of one order)."""
        with self.store.read() as uow:
            if number is not None:
                return uow.exceptions.find(type=EXCEPTION, business_key=drift_key(number))
            return uow.exceptions.find(type=EXCEPTION)

    def adjustments(self, number: int) -> list[dict[str, Any]]:
        """The versions accepted or corrected for an order, oldest first."""
        with self.store.read() as uow:
            entry = uow.ledger.get(KIND, str(number))
        return list(entry.data.get("adjustments", [])) if entry else []


@dataclass(frozen=True, slots=True)
class Correction:
    """What ``correct`` did: the units cancelled, what is left for a person (and why)."""

    done: bool
    cancels: tuple[tuple[int, int], ...]
    left: tuple[FieldDiff, ...]
    error: str = ""
    instructions: str = ""


def _units(cancels: Iterable[tuple[int, int]]) -> str:
    return ", ".join(f"line {n}: {q} unit(s)" for n, q in cancels) or "nothing"


def _instructions(order_no: str, plan: Any, error: str) -> str:
    parts = []
    if plan.cancels and not error:
        parts.append(f"cancelled the added units in BlueCherry ({_units(plan.cancels)})")
    if error:
        parts.append(f"BlueCherry refused to cancel the added units ({error}): they are picked "
                     "or shipped")
    if plan.left:
        fields = "; ".join(f"{r.field}: set {r.centra} (BlueCherry has {r.bluecherry})"
                           for r in plan.left)
        parts.append(f"BlueCherry offers no update call: a person must change sales order "
                     f"{order_no} in BlueCherry — {fields}; the next scan resolves this "
                     "exception once BlueCherry matches, or accept the drift")
    return ". ".join(parts)


def _message(number: int, order: ErpSalesOrder, rows: list[FieldDiff]) -> str:
    shown = "; ".join(f"{r.field}: Centra {r.centra} / BlueCherry {r.bluecherry}"
                      for r in rows[:5])
    more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
    return (f"BlueCherry sales order {order.order_no} (Centra order {number}) differs from "
            f"what Seamline posted, last changed by {order.updated_by or 'unknown'}: "
            f"{shown}{more}. Accept it (`exceptions accept-drift`) or correct from Centra "
            "(`exceptions correct-drift`)")
