"""Parking and releasing orders on one exception from many threads at once (issue 17).

Eight threads park 200 orders on the same missing mapping at the same moment, then release 100
of them concurrently, on SQLite and on PostgreSQL (READ COMMITTED). No park and no release may
be lost: the exception holds exactly the orders parked and not yet released.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import pytest
from orderkit import market, order, rules
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.ledger import OrderState
from seamline.exceptions import MappingMissing
from seamline.queue import JobQueue
from seamline.services.exceptions import ExceptionService
from seamline.services.orders import OrderFlow
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra

THREADS = 8
ORDERS = 200
KEY = "mapping:shipping_option:pickup-point"


class _Ctx:
    """The part of a job context that parking uses: a write transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def transaction(self, *, complete: bool = False) -> AbstractContextManager[Connection]:
        return self.db.begin()


def _flow(db: Database) -> OrderFlow:
    return OrderFlow(store=SqlStore(db, JobQueue(db)), centra=FakeCentra(), erp=FakeBlueCherry(),
                     markets=(market(),), rules=rules())


def _at_once(numbers: list[int], work: Callable[[int], Any]) -> None:
    """Run ``work`` for every number on THREADS threads that all start together."""
    start = threading.Barrier(THREADS)
    chunks = [numbers[i::THREADS] for i in range(THREADS)]

    def run(chunk: list[int]) -> None:
        start.wait()
        for n in chunk:
            work(n)

    with ThreadPoolExecutor(THREADS) as pool:
        for f in [pool.submit(run, c) for c in chunks]:
            f.result()


def _held(db: Database) -> list[int]:
    found = ExceptionService(SqlStore(db)).list(type="MAPPING_MISSING", business_key=KEY)
    assert len(found) == 1, f"one open exception for the key, not {len(found)}"
    return sorted(found[0].orders)


@pytest.fixture
def parked_flow(db: Database) -> tuple[Database, OrderFlow]:
    return db, _flow(db)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_orders_parked_and_released_at_once_on_one_key_are_neither_lost_nor_left_behind(
    parked_flow: tuple[Database, OrderFlow], seed: int,
) -> None:
    """200 parks at once → the exception holds exactly those 200; 100 releases at once →
    exactly the other 100 remain, and each parked ledger row is held."""
    db, flow = parked_flow
    rng = random.Random(seed)
    numbers = list(range(10_000 * seed, 10_000 * seed + ORDERS))
    rng.shuffle(numbers)
    ctx: Any = _Ctx(db)

    def park(n: int) -> None:
        flow._park(ctx, order(number=n, shipping_option="pickup-point"),
                   [(KEY, MappingMissing(kind="shipping_option",
                                         key="shipping_option:pickup-point"))])

    _at_once(numbers, park)
    held = _held(db)
    assert (len(held), sorted(set(numbers) - set(held))) == (ORDERS, [])

    released = sorted(rng.sample(numbers, ORDERS // 2))

    def release(n: int) -> None:
        # What posting does: the ledger row moves on and the order leaves its exceptions, in
        # one transaction.
        with flow.store.begin() as uow:
            flow._patch(uow, n, state=OrderState.POSTED)
            flow._release_parks(uow, n, why=f"order {n} posted")

    _at_once(released, release)
    held = _held(db)
    remaining = sorted(set(numbers) - set(released))
    assert (len(held), held) == (len(remaining), remaining)

    # The rest leave too: the exception holds nothing, so it resolves (exactly once).
    _at_once(remaining, release)
    assert ExceptionService(SqlStore(db)).list(type="MAPPING_MISSING", business_key=KEY) == []
    closed = ExceptionService(SqlStore(db)).list(state="resolved", type="MAPPING_MISSING")
    assert [(e.business_key, e.count, e.orders) for e in closed] == [(KEY, ORDERS, ())]
