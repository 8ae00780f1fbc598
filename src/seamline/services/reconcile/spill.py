"""BlueCherry's side of the days being reconciled, spilled to a temporary SQLite file while it
streams in.

Why by hand: BlueCherry's orders arrive in ``updated_at`` order, the ledger is read in key
order; keeping either side in a dict would grow with the day. An on-disk table keyed by
(customer, Centra order number) keeps memory flat (SQLite's page cache is bounded) and lets
each chunk of the ledger look its orders up by key. Amounts are stored as text and summed as
``Decimal``, never as SQLite numbers.
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

_COMPONENTS = ("merchandise", "discount", "tax", "charges")
_SCHEMA = """
CREATE TABLE erp_orders (customer TEXT, num INTEGER, order_no TEXT, currency TEXT, total TEXT,
    merchandise TEXT, discount TEXT, tax TEXT, charges TEXT, updated_by TEXT,
    PRIMARY KEY (customer, num));
CREATE TABLE invoices (invoice_no TEXT PRIMARY KEY, day TEXT, customer TEXT, po TEXT,
    currency TEXT, total TEXT);
CREATE INDEX ix_invoices ON invoices (day, customer, invoice_no);
CREATE TABLE applied (invoice_no TEXT, amount TEXT);
CREATE INDEX ix_applied ON applied (invoice_no);
CREATE TABLE refunds (day TEXT, customer TEXT, po TEXT, amount TEXT);
CREATE TABLE memos (day TEXT, customer TEXT, po TEXT, memo_no TEXT, total TEXT);
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

    def add_orders(self, rows: Iterable[tuple[str, int, ErpOrderFigures]]) -> None:
        """``(customer, number, figures)``; later rows replace earlier ones (the list is in
        ``updated_at`` order)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO erp_orders VALUES (?,?,?,?,?,?,?,?,?,?)",
            ((c, n, f.order_no, f.currency, str(f.total),
              *(str(f.components.get(k, "")) for k in _COMPONENTS), f.updated_by)
             for c, n, f in rows))

    def add_invoices(self, rows: Iterable[tuple[str, str, str, str, str, Decimal]]) -> None:
        """``(invoice_no, day, customer, po, currency, total)``."""
        self.db.executemany("INSERT OR REPLACE INTO invoices VALUES (?,?,?,?,?,?)",
                            ((no, d, c, po, cur, str(t)) for no, d, c, po, cur, t in rows))

    def add_applied(self, rows: Iterable[tuple[str, Decimal]]) -> None:
        self.db.executemany("INSERT INTO applied VALUES (?,?)",
                            ((no, str(a)) for no, a in rows))

    def add_refunds(self, rows: Iterable[tuple[str, str, str, Decimal]]) -> None:
        """``(day, customer, po, amount)``."""
        self.db.executemany("INSERT INTO refunds VALUES (?,?,?,?)",
                            ((d, c, po, str(a)) for d, c, po, a in rows))

    def add_memos(self, rows: Iterable[tuple[str, str, str, str, Decimal]]) -> None:
        """``(day, customer, po, memo_no, total)``."""
        self.db.executemany("INSERT INTO memos VALUES (?,?,?,?,?)",
                            ((d, c, po, no, str(t)) for d, c, po, no, t in rows))

    # -- reading ----------------------------------------------------------------------------

    def orders(self, customer: str, numbers: Sequence[int]) -> dict[int, ErpOrderFigures]:
        """The BlueCherry orders of these Centra order numbers (one chunk's worth)."""
        out: dict[int, ErpOrderFigures] = {}
        for start in range(0, len(numbers), 500):
            part = list(numbers[start:start + 500])
            marks = ",".join("?" * len(part))
            for _c, n, no, cur, total, *comp, by in self.db.execute(
                    f"SELECT * FROM erp_orders WHERE customer = ? AND num IN ({marks})",
                    [customer, *part]):
                components = {k: Decimal(v) for k, v in zip(_COMPONENTS, comp, strict=True)
                              if v}
                out[int(n)] = ErpOrderFigures(order_no=no, currency=cur, total=Decimal(total),
                                              components=components, updated_by=by or "")
        return out

    def invoices(self, day: str, customer: str
                 ) -> Iterator[tuple[str, str, str, Decimal, Decimal]]:
        """``(invoice_no, po, currency, invoiced, received)`` in invoice-number order."""
        current: tuple[str, str, str, Decimal] | None = None
        received = Decimal(0)
        for no, po, cur, total, amount in self.db.execute(
                "SELECT i.invoice_no, i.po, i.currency, i.total, a.amount FROM invoices i "
                "LEFT JOIN applied a ON a.invoice_no = i.invoice_no "
                "WHERE i.day = ? AND i.customer = ? ORDER BY i.invoice_no", (day, customer)):
            if current is None or current[0] != no:
                if current is not None:
                    yield (*current, received)
                current = (no, po, cur, Decimal(total))
                received = Decimal(0)
            if amount is not None:
                received += Decimal(amount)
        if current is not None:
            yield (*current, received)

    def refunds_and_memos(self, day: str, customer: str
                          ) -> Iterator[tuple[str, Decimal, Decimal, str]]:
        """``(po, refunded, credited, memo numbers)`` per order, in PO order."""
        rows = self.db.execute(
            "SELECT po, amount, NULL, NULL FROM refunds WHERE day = ? AND customer = ? "
            "UNION ALL SELECT po, NULL, total, memo_no FROM memos WHERE day = ? AND customer = ? "
            "ORDER BY 1", (day, customer, day, customer))
        current: str | None = None
        refunded = credited = Decimal(0)
        names: list[str] = []
        for po, amount, total, memo_no in rows:
            if po != current:
                if current is not None:
                    yield current, refunded, credited, " ".join(sorted(names))
                current, refunded, credited, names = po, Decimal(0), Decimal(0), []
            if amount is not None:
                refunded += Decimal(amount)
            if total is not None:
                credited += Decimal(total)
                names.append(memo_no)
        if current is not None:
            yield current, refunded, credited, " ".join(sorted(names))
