"""The stock sync at catalogue scale on a real SQLite store (the in-memory Centra and BlueCherry):
a delta cycle touching 1,000 of 100,000 SKUs makes ⌈1,000 / batch size⌉ setStock mutations."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.erp import AtsCycle, AtsItem
from seamline.services.stock import StockPlan, StockSync
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
SKUS = 100_000
CHANGED = 1_000
BATCH = 100


def _items(figures: dict[str, int]) -> list[AtsItem]:
    return [AtsItem(sku=s, upc="", warehouse="W01", on_hand=a, allocated=0, open_demand=0,
                    ats=a) for s, a in figures.items()]


def test_a_delta_cycle_touching_1000_of_100000_skus_makes_ten_mutations(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'scale.db'}")
    db.upgrade()
    erp, centra = FakeBlueCherry(), FakeCentra()
    now = T0
    sync = StockSync(store=SqlStore(db), centra=centra, erp=erp,
                     plan=StockPlan(warehouses={1: ("W01",)}, batch_size=BATCH),
                     clock=lambda: now)
    try:
        figures = {f"SKU-{i:06d}": i % 17 for i in range(SKUS)}
        erp.publish_ats("W01", AtsCycle(id=1, as_of=now, published_at=now), _items(figures))
        full = sync.run()
        assert (full.pushed, full.mutations) == (SKUS, math.ceil(SKUS / BATCH))
        now += timedelta(minutes=15)
        changed = {s: figures[s] + 5 for s in list(figures)[::SKUS // CHANGED]}
        assert len(changed) == CHANGED
        erp.publish_ats("W01", AtsCycle(id=2, as_of=now, published_at=now),
                        _items({**figures, **changed}))
        delta = sync.run()
        assert delta.sizes_read == CHANGED
        assert (delta.pushed, delta.mutations) == (CHANGED, math.ceil(CHANGED / BATCH))
        assert all(centra.stock[(1, s)] == q for s, q in changed.items())
    finally:
        db.dispose()
