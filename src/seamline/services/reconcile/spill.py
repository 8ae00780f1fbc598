"""BlueCherry's side of one day, spilled to a temporary SQLite file while it streams in.

Why by hand: the day's BlueCherry orders arrive in ``updated_at`` order, the ledger is read in
key order; keeping either side in a dict would grow with the day. An on-disk table keyed by the
Centra order number keeps memory flat (SQLite's page cache is bounded) and lets each chunk of
the ledger look its orders up by key. Amounts are stored as text and summed as ``Decimal``.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from seamline.domain.reconcile import ErpOrderFigures

__all__ = ["Spill"]

_SCHEMA = """
CREATE TABLE erp_orders (num INTEGER PRIMARY KEY, order_no TEXT, currency TEXT, total TEXT,
    merchandise TEXT, discount TEXT, tax TEXT, charges TEXT, updated_by TEXT);
CREATE TABLE invoices (invoice_no TEXT PRIMARY KEY, po TEXT, currency TEXT, total TEXT);
CREATE TABLE applied (invoice_no TEXT, amount TEXT);
CREATE INDEX ix_applied ON applied (invoice_no);
CREATE TABLE refunds (po TEXT, amount TEXT);
CREATE TABLE memos (po TEXT, memo_no TEXT, total TEXT);
"""


class Spill:
    """A throw-away SQLite file (deleted on close)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="seamline-reconcile-")
        self.db = sqlite3.connect(Path(self._dir.name) / "spill.db")
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                              "PRAGMA cache_size=-8000;" + _SCHEMA)

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()

    # -- filling ----------------------------------------------------------------------------

    def add_orders(self, rows: Iterable[tuple[int, ErpOrderFigures]]) -> None:
        """Later rows replace earlier ones (the feed is in ``updated_at`` order)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO erp_orders VALUES (?,?,?,?,?,?,?,?,?)",
            ((n, f.order_no, f.currency, str(f.total),
              *(str(f.components.get(c, "")) for c in ("merchandise", "discount", "tax",
                                                       "charges")), f.updated_by)
             for n, f in rows))

    def add_invoices(self, rows: Iterable[tuple[str, str, str, Decimal]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO invoices VALUES (?,?,?,?)",
                            ((no, po, cur, str(t)) for no, po, cur, t in rows))

    def add_applied(self, rows: Iterable[tuple[str, Decimal]]) -> None:
        self.db.executemany("INSERT INTO applied VALUES (?,?)",
                            ((no, str(a)) for no, a in rows))

    def add_refunds(self, rows: Iterable[tuple[str, Decimal]]) -> None:
        self.db.executemany("INSERT INTO refunds VALUES (?,?)", ((po, str(a)) for po, a in rows))

    def add_memos(self, rows: Iterable[tuple[str, str, Decimal]]) -> None:
        self.db.executemany("INSERT INTO memos VALUES (?,?,?)",
                            ((po, no, str(t)) for po, no, t in rows))

    # -- reading ----------------------------------------------------------------------------

    def orders(self, numbers: Sequence[int]) -> dict[int, ErpOrderFigures]:
        """The BlueCherry orders of these Centra order numbers (one chunk's worth)."""
        out: dict[int, ErpOrderFigures] = {}
        if not numbers:
            return out
        marks = ",".join("?" * len(numbers))
        for n, no, cur, total, *comp, by in self.db.execute(
                f"SELECT * FROM erp_orders WHERE num IN ({marks})", list(numbers)):
            components = {c: Decimal(v) for c, v in zip(
                ("merchandise", "discount", "tax", "charges"), comp, strict=True) if v}
            out[int(n)] = ErpOrderFigures(order_no=no, currency=cur, total=Decimal(total),
                                          components=components, updated_by=by or "")
        return out

    def invoices(self) -> Iterator[tuple[str, str, str, Decimal, Decimal]]:
        """``(invoice_no, po, currency, invoiced, received)`` in invoice-number order."""
        current: list[object] | None = None
        for no, po, cur, total, amount in self.db.execute(
                "SELECT i.invoice_no, i.po, i.currency, i.total, a.amount FROM invoices i "
                "LEFT JOIN applied a ON a.invoice_no = i.invoice_no ORDER BY i.invoice_no"):
            if current is None or current[0] != no:
                if current is not None:
                    yield _inv(current)
                current = [no, po, cur, Decimal(total), Decimal(0)]
            if amount is not None:
                current[4] = _dec(current[4]) + Decimal(amount)
        if current is not None:
            yield _inv(current)

    def refunds_and_memos(self) -> Iterator[tuple[str, Decimal, Decimal, str]]:
        """``(po, refunded, credited, memo numbers)`` per order, in PO order."""
        sums: dict[str, list[Decimal]] = {}
        names: dict[str, list[str]] = {}
        for po, amount in self.db.execute("SELECT po, amount FROM refunds"):
            sums.setdefault(po, [Decimal(0), Decimal(0)])[0] += Decimal(amount)
        for po, no, total in self.db.execute("SELECT po, memo_no, total FROM memos"):
            sums.setdefault(po, [Decimal(0), Decimal(0)])[1] += Decimal(total)
            names.setdefault(po, []).append(no)
        # refunds and memos are few next to orders: held per day, not per order
        for po in sorted(sums, key=lambda p: (len(p), p)):
            r, c = sums[po]
            yield po, r, c, " ".join(sorted(names.get(po, [])))


def _dec(v: object) -> Decimal:
    assert isinstance(v, Decimal)
    return v


def _inv(row: list[object]) -> tuple[str, str, str, Decimal, Decimal]:
    return str(row[0]), str(row[1]), str(row[2]), _dec(row[3]), _dec(row[4])
