"""The stock repository on SQLite and PostgreSQL (``stock_ats``, ``stock_levels``,
``stock_demand``): bulk upserts in chunks, sums done by the database."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.repos import dialect_insert
from seamline.adapters.store.schema import stock_ats, stock_demand, stock_levels
from seamline.domain.stock import DemandLine, LevelRow, StockTarget, batches

__all__ = ["SqlStock"]

#: Rows per statement (SQLite allows 32,766 bound parameters; 13 columns × 1,000 stays well
#: under it).
CHUNK = 1000


def _level(row: Any) -> LevelRow:
    return LevelRow(centra_warehouse=int(row.centra_warehouse), sku=row.sku,
                    centra_key=row.centra_key, ats=int(row.ats), buffer=int(row.buffer),
                    counted=int(row.counted), target=int(row.target),
                    pushed=None if row.pushed is None else int(row.pushed),
                    cycle_id=int(row.cycle_id), published_at=row.published_at,
                    pushed_at=row.pushed_at, unknown=bool(row.unknown))


@functools.cache
def _upsert_ats(dialect: str) -> Any:
    """One prepared upsert, run with many parameter sets (compiled once, not per chunk)."""
    stmt = dialect_insert(dialect)(stock_ats)
    return stmt.on_conflict_do_update(
        index_elements=["warehouse", "sku"],
        set_={"upc": stmt.excluded.upc, "ats": stmt.excluded.ats,
              "cycle_id": stmt.excluded.cycle_id})


@functools.cache
def _upsert_levels(dialect: str, resend: bool) -> Any:
    """Targets upserted keeping what Centra confirmed (``resend``: forgetting it)."""
    stmt = dialect_insert(dialect)(stock_levels)
    ex = stmt.excluded
    set_: dict[str, Any] = {"centra_key": ex.centra_key, "ats": ex.ats, "buffer": ex.buffer,
                            "counted": ex.counted, "target": ex.target,
                            "cycle_id": ex.cycle_id, "published_at": ex.published_at,
                            "computed_at": ex.computed_at}
    if resend:
        set_["unknown"] = sa.false()
        set_["pushed"] = sa.null()
    return stmt.on_conflict_do_update(index_elements=["centra_warehouse", "sku"], set_=set_)


class SqlStock:
    """``StockRepository`` over one connection's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- ATS --------------------------------------------------------------------------------

    def save_ats(self, rows: Iterable[tuple[str, str, str, int]], *, cycle_id: int) -> int:
        stmt = _upsert_ats(self.conn.dialect.name)
        n = 0
        for chunk in batches(rows, CHUNK):
            self.conn.execute(stmt, [{"warehouse": w, "sku": s, "upc": u, "ats": a,
                                      "cycle_id": cycle_id} for w, s, u, a in chunk])
            n += len(chunk)
        return n

    def ats(self, warehouses: Sequence[str],
            skus: Iterable[str] | None = None) -> dict[str, tuple[str, int]]:
        base = (sa.select(stock_ats.c.sku, sa.func.max(stock_ats.c.upc),
                          sa.func.sum(stock_ats.c.ats))
                .where(stock_ats.c.warehouse.in_(list(warehouses)))
                .group_by(stock_ats.c.sku))
        out: dict[str, tuple[str, int]] = {}
        for stmt in self._by_sku(base, stock_ats.c.sku, skus):
            for sku, upc, total in self.conn.execute(stmt):
                out[sku] = (upc or "", int(total or 0))
        return out

    # -- web demand -------------------------------------------------------------------------

    def counted(self, as_of: Mapping[str, datetime],
                skus: Iterable[str] | None = None) -> dict[str, int]:
        if not as_of:
            return {}
        t = stock_demand
        seen = sa.or_(*(sa.and_(t.c.warehouse == w, t.c.created_at <= at)
                        for w, at in as_of.items()))
        net = sa.case((seen, t.c.units), else_=-t.c.shipped)
        base = (sa.select(t.c.sku, sa.func.sum(net))
                .where(t.c.warehouse.in_(list(as_of)), (t.c.units > 0) | (t.c.shipped > 0))
                .group_by(t.c.sku))
        out: dict[str, int] = {}
        for stmt in self._by_sku(base, stock_demand.c.sku, skus):
            for sku, units in self.conn.execute(stmt):
                out[sku] = int(units or 0)
        return out

    def set_demand(self, number: int, lines: Sequence[DemandLine], *,
                   now: datetime) -> list[tuple[str, str]]:
        t = stock_demand
        old = {r.line_no: (r.warehouse, r.sku, int(r.units), int(r.shipped))
               for r in self.conn.execute(
                   sa.select(t.c.line_no, t.c.warehouse, t.c.sku, t.c.units, t.c.shipped)
                   .where(t.c.order_number == number))}
        changed: list[tuple[str, str]] = []
        for ln in lines:
            before = old.pop(ln.line_no, None)
            if before == (ln.warehouse, ln.sku, ln.units, ln.shipped):
                continue
            if ln.shipped > (before[3] if before is not None else 0):
                # Centra lowered its physical stock by what it shipped: what was pushed is no
                # longer what Centra holds, so the size is sent again.
                self.conn.execute(sa.update(stock_levels).where(stock_levels.c.sku == ln.sku)
                                  .values(pushed=None))
            if before is not None:
                changed.append((before[0], before[1]))
                self.conn.execute(sa.delete(t).where(t.c.order_number == number,
                                                     t.c.line_no == ln.line_no))
            changed.append((ln.warehouse, ln.sku))
            self.conn.execute(sa.insert(t).values(
                order_number=number, line_no=ln.line_no, warehouse=ln.warehouse, sku=ln.sku,
                units=ln.units, shipped=ln.shipped, created_at=ln.created_at, changed_at=now))
        for line_no, (warehouse, sku, units, _) in old.items():
            # A line that left the order: no units are allocated for it any more.
            if units:
                changed.append((warehouse, sku))
                self.conn.execute(sa.update(t).where(
                    t.c.order_number == number, t.c.line_no == line_no,
                ).values(units=0, changed_at=now))
        return sorted(set(changed))

    def prune_demand(self, as_of: Mapping[str, datetime]) -> int:
        if not as_of:
            return 0
        t = stock_demand
        seen = sa.or_(*(sa.and_(t.c.warehouse == w, t.c.created_at <= at)
                        for w, at in as_of.items()))
        result = self.conn.execute(sa.delete(t).where(t.c.units <= 0, seen))
        return int(result.rowcount or 0)

    def demand_created_between(self, warehouse: str, after: datetime,
                               upto: datetime) -> set[str]:
        t = stock_demand
        rows = self.conn.execute(sa.select(t.c.sku).where(
            t.c.warehouse == warehouse, t.c.created_at > after, t.c.created_at <= upto,
        ).distinct())
        return {sku for (sku,) in rows}

    def demand_changed_since(self, since: datetime) -> set[tuple[str, str]]:
        t = stock_demand
        rows = self.conn.execute(sa.select(t.c.warehouse, t.c.sku).where(t.c.changed_at >= since)
                                 .distinct())
        return {(w, s) for w, s in rows}

    # -- levels -----------------------------------------------------------------------------

    def save_targets(self, targets: Iterable[StockTarget], *, published_at: datetime | None,
                     now: datetime, resend: bool = False) -> int:
        stmt = _upsert_levels(self.conn.dialect.name, resend)
        n = 0
        for chunk in batches(targets, CHUNK):
            self.conn.execute(stmt, [
                {"centra_warehouse": x.centra_warehouse, "sku": x.sku,
                 "centra_key": x.centra_key, "ats": x.ats, "buffer": x.buffer,
                 "counted": x.counted, "target": x.physical, "pushed": None,
                 "cycle_id": x.cycle_id, "published_at": published_at, "computed_at": now,
                 "pushed_at": None, "unknown": False} for x in chunk])
            n += len(chunk)
        return n

    def pending(self, centra_warehouse: int | None = None, *,
                limit: int | None = None) -> list[LevelRow]:
        t = stock_levels
        stmt = sa.select(t).where(
            t.c.unknown == sa.false(),
            sa.or_(t.c.pushed.is_(None), t.c.pushed != t.c.target),
        ).order_by(t.c.centra_warehouse, t.c.sku)
        if centra_warehouse is not None:
            stmt = stmt.where(t.c.centra_warehouse == centra_warehouse)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_level(r) for r in self.conn.execute(stmt)]

    def levels(self, centra_warehouse: int, skus: Iterable[str]) -> dict[str, LevelRow]:
        t = stock_levels
        base = sa.select(t).where(t.c.centra_warehouse == centra_warehouse)
        out: dict[str, LevelRow] = {}
        for stmt in self._by_sku(base, t.c.sku, skus):
            for r in self.conn.execute(stmt):
                out[r.sku] = _level(r)
        return out

    def mark_pushed(self, centra_warehouse: int, pushed: Iterable[tuple[str, int]], *,
                    now: datetime) -> None:
        t = stock_levels
        stmt = (sa.update(t).where(t.c.centra_warehouse == centra_warehouse,
                                   t.c.sku == sa.bindparam("b_sku"))
                .values(pushed=sa.bindparam("b_qty"), pushed_at=now))
        rows = [{"b_sku": sku, "b_qty": qty} for sku, qty in pushed]
        if rows:
            self.conn.execute(stmt, rows)

    def mark_unknown(self, centra_warehouse: int, skus: Iterable[str], *,
                     now: datetime) -> None:
        t = stock_levels
        for chunk in batches(skus, CHUNK):
            self.conn.execute(sa.update(t).where(t.c.centra_warehouse == centra_warehouse,
                                                 t.c.sku.in_(chunk))
                              .values(unknown=True, computed_at=now))

    def summary(self) -> dict[str, int]:
        t = stock_levels
        sizes, pending, unknown = self.conn.execute(sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((sa.and_(t.c.unknown == sa.false(), sa.or_(
                t.c.pushed.is_(None), t.c.pushed != t.c.target)), 1), else_=0)),
            sa.func.sum(sa.case((t.c.unknown == sa.true(), 1), else_=0)),
        )).one()
        demand = self.conn.execute(sa.select(sa.func.sum(stock_demand.c.units))).scalar()
        return {"sizes": int(sizes or 0), "pending": int(pending or 0),
                "unknown": int(unknown or 0), "demand_units": int(demand or 0)}

    @staticmethod
    def _by_sku(base: Any, column: Any, skus: Iterable[str] | None) -> list[Any]:
        if skus is None:
            return [base]
        return [base.where(column.in_(chunk)) for chunk in batches(sorted(set(skus)), CHUNK)]
