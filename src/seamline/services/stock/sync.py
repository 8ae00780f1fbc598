"""The stock sync: BlueCherry's published ATS → the physical figure of each Centra size.

One run: (1) read each BlueCherry warehouse's latest cycle — the SKUs changed since the cycle
last read, or every SKU on a full run — and keep the figures (``stock_ats``); (2) for each Centra
warehouse, compute the target of every SKU whose ATS changed or whose posted web demand changed
(``domain.stock``: ``max(ATS − buffer, 0) + counted``); (3) push every size whose target differs
from what Centra last confirmed, ``batch_size`` sizes per ``setStock``, recording each batch only
once Centra confirmed it (what fails stays pending for the next run); (4) keep the watch
(``services.stock.watch``). A full run sends every size again.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from seamline.domain.erp import AtsCycle
from seamline.domain.stock import LevelRow, StockTarget, batches
from seamline.exceptions import NotFound, RateLimited, SeamlineError
from seamline.logging import get_logger
from seamline.ports import BlueCherryGateway, CentraGateway
from seamline.services.stock.plan import StockPlan
from seamline.services.stock.watch import keep_watch
from seamline.services.unit_of_work import Store, Tx

__all__ = ["CYCLE_CURSOR", "DEMAND_CURSOR", "StockSync", "SyncReport"]

log = get_logger(__name__)

#: Per BlueCherry warehouse: the cycle last read (``{"id", "as_of", "published_at"}``).
CYCLE_CURSOR = "stock:cycle:{warehouse}"
#: When demand changes were last looked for (read again with an overlap).
DEMAND_CURSOR = "stock:demand_seen"
DEMAND_OVERLAP = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(UTC)


def _cycle_to_json(cycle: AtsCycle) -> str:
    return json.dumps({"id": cycle.id, "as_of": cycle.as_of.isoformat(),
                       "published_at": cycle.published_at.isoformat()})


def _cycle_from_json(raw: str | None) -> AtsCycle | None:
    if not raw:
        return None
    d = json.loads(raw)
    return AtsCycle(id=int(d["id"]), as_of=datetime.fromisoformat(d["as_of"]),
                    published_at=datetime.fromisoformat(d["published_at"]))


@dataclass
class SyncReport:
    """What one run did."""

    full: bool = False
    #: BlueCherry warehouse → the cycle its figures are now from.
    cycles: dict[str, int] = field(default_factory=dict)
    #: BlueCherry warehouses that published a cycle not read before.
    new_cycles: list[str] = field(default_factory=list)
    sizes_read: int = 0
    targets: int = 0
    pushed: int = 0
    mutations: int = 0
    #: Centra warehouse → the keys Centra did not know this run.
    unknown: dict[int, list[str]] = field(default_factory=dict)
    #: Centra warehouse → sizes Centra set higher than asked (its orders hold more).
    adjusted: dict[int, list[str]] = field(default_factory=dict)
    #: Sizes still to push when the run ended (the adjusted ones included).
    pending: int = 0
    #: Why reading or pushing stopped (None: it did not).
    failed: str | None = None
    #: Why pushing paused without failing: Centra's budget is spent or higher-priority work
    #: waits (the sizes stay pending for the next run; not counted as a failed run).
    deferred: str | None = None
    #: Seconds from the cycle's publication to Centra's confirmation, worst size of the run.
    lag_s: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {"full": self.full, "cycles": self.cycles, "new_cycles": self.new_cycles,
                "sizes_read": self.sizes_read, "targets": self.targets, "pushed": self.pushed,
                "mutations": self.mutations,
                "unknown": {str(k): len(v) for k, v in self.unknown.items()},
                "adjusted": {str(k): len(v) for k, v in self.adjusted.items()},
                "pending": self.pending, "failed": self.failed, "deferred": self.deferred,
                "lag_s": self.lag_s}


def _wanted(warehouses: list[str], changed: dict[str, set[str] | None]) -> set[str] | None:
    """The SKUs to compute for a Centra warehouse fed by ``warehouses`` (None: all)."""
    wanted: set[str] = set()
    for w in warehouses:
        skus = changed.get(w, set())
        if skus is None:
            return None
        wanted |= skus
    return wanted


#: ``progress(done, total)`` while sizes are pushed.
Progress = Callable[[int, int], None]


@dataclass
class StockSync:
    """The stock flow; one per process, built by the composition root."""

    store: Store
    centra: CentraGateway
    erp: BlueCherryGateway
    plan: StockPlan
    clock: Callable[[], datetime] = _now

    def run(self, tx: Tx | None = None, *, full: bool = False, sku_pattern: str | None = None,
            progress: Progress | None = None,
            heartbeat: Callable[[], object] | None = None) -> SyncReport:
        """One sync run (see the module docstring). ``tx`` opens write units of work (a job's
        fenced ones); ``sku_pattern`` limits the run to matching BlueCherry SKUs."""
        tx = tx or self.store.begin
        report = SyncReport(full=full)
        started = self.clock()
        cycles, changed = self._read(tx, report, full=full, pattern=sku_pattern)
        if sku_pattern is None:
            self._add_demand_changes(tx, changed, started)
        for centra_wh, feeds in self.plan.warehouses.items():
            self._compute(tx, report, centra_wh, feeds=feeds, cycles=cycles, changed=changed,
                          full=full)
        self._push(tx, report, progress=progress, heartbeat=heartbeat)
        with self.store.read() as uow:
            report.pending = uow.stock.summary()["pending"]
        with tx() as uow:
            keep_watch(uow, self.plan, report, cycles, now=self.clock())
            # Lines with nothing allocated that every kept cycle has seen count nothing again.
            uow.stock.prune_demand({w: c.as_of for w, c in cycles.items()})
        log.info("stock sync", **report.as_dict())
        return report

    # -- 1. read ------------------------------------------------------------------------------

    def _read(self, tx: Tx, report: SyncReport, *, full: bool, pattern: str | None,
              ) -> tuple[dict[str, AtsCycle], dict[str, set[str] | None]]:
        """Each BlueCherry warehouse's cycle (as now kept) and the SKUs whose figures were read
        (``None``: all of them)."""
        cycles: dict[str, AtsCycle] = {}
        changed: dict[str, set[str] | None] = {}
        for wh in self.plan.bluecherry_warehouses:
            name = CYCLE_CURSOR.format(warehouse=wh)
            with self.store.read() as uow:
                before = _cycle_from_json(uow.cursors.get(name))
            if before is not None:
                cycles[wh] = before
            since = None if full or before is None else before.id
            try:
                cycle, items = self.erp.iter_ats(wh, since)
            except NotFound:
                log.info("stock: no ATS cycle published yet", warehouse=wh)
                continue
            except SeamlineError as exc:
                report.failed = f"reading BlueCherry ATS of {wh}: {exc.message}"
                log.warning("stock: ATS read failed", warehouse=wh, error=exc.message)
                continue
            if before is not None and cycle.id < before.id and since is not None:
                cycle, items = self.erp.iter_ats(wh, None)  # BlueCherry started over
            if pattern is not None:
                items = [i for i in items if fnmatch.fnmatchcase(i.sku, pattern)]
            skus = {i.sku for i in items}
            with tx() as uow:
                uow.stock.save_ats(((wh, i.sku, i.upc, i.ats) for i in items),
                                   cycle_id=cycle.id)
                if before is not None and cycle.as_of > before.as_of:
                    # Web orders the new cycle counts for the first time move their SKU's
                    # figure even where BlueCherry's figures came out the same.
                    seen = uow.stock.demand_created_between(wh, before.as_of, cycle.as_of)
                    skus |= {s for s in seen
                             if pattern is None or fnmatch.fnmatchcase(s, pattern)}
                if pattern is None:
                    uow.cursors.set(name, _cycle_to_json(cycle), now=self.clock())
            if before is None or cycle.id != before.id:
                report.new_cycles.append(wh)
            cycles[wh] = cycle
            report.cycles[wh] = cycle.id
            report.sizes_read += len(items)
            changed[wh] = None if full and pattern is None else skus
        return cycles, changed

    def _add_demand_changes(self, tx: Tx, changed: dict[str, set[str] | None],
                            started: datetime) -> None:
        """Web demand that changed since the last run (a cancel, a shipment) moves the
        target of its SKU even when BlueCherry's figures did not."""
        with tx() as uow:
            raw = uow.cursors.get(DEMAND_CURSOR)
            since = (datetime.fromisoformat(raw) - DEMAND_OVERLAP) if raw else None
            moved = uow.stock.demand_changed_since(since) if since else set()
            uow.cursors.set(DEMAND_CURSOR, started.isoformat(), now=started)
        for wh, sku in moved:
            skus = changed.setdefault(wh, set())
            if skus is not None:
                skus.add(sku)

    # -- 2. compute ---------------------------------------------------------------------------

    def _compute(self, tx: Tx, report: SyncReport, centra_wh: int, *, feeds: tuple[str, ...],
                 cycles: dict[str, AtsCycle], changed: dict[str, set[str] | None],
                 full: bool) -> None:
        known = [w for w in feeds if w in cycles]
        if not known:
            return
        wanted = _wanted(known, changed)
        if wanted is not None and not wanted:
            return
        with self.store.read() as uow:
            ats = uow.stock.ats(known, wanted)
            counted = uow.stock.counted({w: cycles[w].as_of for w in known}, wanted)
        cycle_id = max(cycles[w].id for w in known)
        published = max(cycles[w].published_at for w in known)
        buffers, key = self.plan.buffers, self.plan.key
        targets = [
            StockTarget(centra_warehouse=centra_wh, sku=sku, centra_key=key(sku, upc),
                        ats=units, buffer=buffers.for_size(centra_wh, sku),
                        counted=counted.get(sku, 0), cycle_id=cycle_id)
            for sku, (upc, units) in ats.items()]
        with tx() as uow:
            uow.stock.save_targets(targets, published_at=published, now=self.clock(),
                                   resend=full)
        report.targets += len(targets)

    # -- 3. push ------------------------------------------------------------------------------

    def _push(self, tx: Tx, report: SyncReport, *, progress: Progress | None,
              heartbeat: Callable[[], object] | None) -> None:
        with self.store.read() as uow:
            todo = {wh: uow.stock.pending(wh) for wh in self.plan.warehouses}
        total = sum(len(rows) for rows in todo.values())
        done = 0
        if progress is not None:
            progress(0, total)
        for centra_wh, rows in todo.items():
            for batch in batches(rows, self.plan.batch_size):
                if not self._push_batch(tx, report, centra_wh, batch):
                    return
                done += len(batch)
                if progress is not None:
                    progress(done, total)
                if heartbeat is not None:
                    heartbeat()

    def _push_batch(self, tx: Tx, report: SyncReport, centra_wh: int,
                    batch: list[LevelRow]) -> bool:
        try:
            result = self.centra.set_stock_sizes(
                centra_wh, [(r.centra_key, r.target) for r in batch],
                description=self.plan.description)
        except RateLimited as exc:
            if exc.status == 429:  # Centra itself refused: a failed run, as any error
                report.failed = f"setStock in Centra warehouse {centra_wh}: {exc.message}"
                log.warning("stock: push failed; the sizes stay pending", warehouse=centra_wh,
                            sizes=len(batch), error=exc.message)
                return False
            # Seamline's own Centra budget says wait (spent, or shipments first): not a
            # failure; the sizes go with the next run.
            report.deferred = f"setStock in Centra warehouse {centra_wh}: {exc.message}"
            log.info("stock: push paused for the Centra budget; the sizes stay pending",
                     warehouse=centra_wh, sizes=len(batch), error=exc.message)
            return False
        except SeamlineError as exc:
            report.failed = f"setStock in Centra warehouse {centra_wh}: {exc.message}"
            log.warning("stock: push failed; the sizes stay pending", warehouse=centra_wh,
                        sizes=len(batch), error=exc.message)
            return False
        refused = set(result.unknown)
        adjusted = set(result.adjusted)
        now = self.clock()
        # A size Centra set to another figure (physical raised to what its orders hold
        # allocated: sold beyond stock) stays pending, so it is sent again until Centra takes
        # it as given — once those orders ship or are cancelled.
        ok = [(r.sku, r.target) for r in batch
              if r.centra_key not in refused and r.centra_key not in adjusted]
        bad = [r.sku for r in batch if r.centra_key in refused]
        if adjusted:
            report.adjusted.setdefault(centra_wh, []).extend(
                r.sku for r in batch if r.centra_key in adjusted)
        with tx() as uow:
            uow.stock.mark_pushed(centra_wh, ok, now=now)
            if bad:
                uow.stock.mark_unknown(centra_wh, bad, now=now)
        report.pushed += len(ok) + len(adjusted)
        report.mutations += result.mutations
        if bad:
            report.unknown.setdefault(centra_wh, []).extend(bad)
        fresh = {report.cycles[w] for w in report.new_cycles}
        lags = [(now - r.published_at).total_seconds() for r in batch
                if r.published_at is not None and r.cycle_id in fresh and not report.full]
        if lags:
            report.lag_s = max(report.lag_s or 0.0, *lags)
        return True
