"""Write-back under trouble (in-memory Centra/BlueCherry): it keeps its progress when one
``confirmOrder`` fails, and a poll re-queues it when its wake-up was lost.

Found by the end-to-end fault test: with ~20% 5xx on Centra, a batch of 100 write-backs holds
~70 confirms, each failing ~5% of the time after the client's read-back; when one failure threw
the whole batch's progress away, the write-back job retried the same batch forever.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from orderkit import order
from test_order_flow import Env

from seamline.adapters.store.schema import jobs
from seamline.domain.orders import OrderStatus
from seamline.exceptions import AmbiguousWrite


def test_a_failing_confirm_keeps_the_orders_written_back_before_it(sqlite_url: str) -> None:
    """Orders before the failing confirm are synced at once; the retry finishes the rest."""
    env = Env(sqlite_url)
    for number, status in ((2001, OrderStatus.CONFIRMED), (2002, OrderStatus.PENDING),
                           (2003, OrderStatus.PENDING)):
        env.centra.add_order(replace(order(number=number, id=f"h{number}", status=status),
                                     updated_at=env.now - timedelta(minutes=1)))
    env.flow.poll()
    env.worker.drain(["orders"])
    assert all(env.ledger(n).state == "posted" for n in (2001, 2002, 2003))

    # A long Retry-After on the second confirm: the job is released to run an hour later.
    env.centra.inject("429", times=1, match="confirm_order", retry_after=3600)
    env.worker.run_once(["writeback"])

    assert env.ledger(2001).state == "synced"
    assert env.ledger(2002).state == "posted"
    assert env.ledger(2003).state == "posted"
    env.now += timedelta(hours=2)
    env.worker.drain(["writeback"])
    for n in (2001, 2002, 2003):
        assert env.ledger(n).state == "synced"
        got = env.centra.get_order(n)
        assert got is not None
        assert env.centra.get_external_ids([n]) == {n: env.ledger(n).data["order_no"]}
        assert got.status is OrderStatus.CONFIRMED


def test_a_poll_requeues_the_write_back_a_finishing_job_missed(sqlite_url: str) -> None:
    """A posted order whose write-back wake-up was lost is written back after the next poll."""
    env = Env(sqlite_url)
    env.centra.add_order(replace(order(number=2101, id="h2101"),
                                 updated_at=env.now - timedelta(minutes=1)))
    env.flow.poll()
    env.worker.drain(["orders"])
    assert env.ledger(2101).state == "posted"
    # The lost wake-up: the write-back job the post enqueued is gone (it was the one finishing).
    with env.db.begin() as conn:
        conn.execute(sa.delete(jobs).where(jobs.c.task == "centra.writeback"))
    env.worker.drain(["writeback"])
    assert env.ledger(2101).state == "posted"

    env.flow.poll()
    env.worker.drain(["writeback"])

    assert env.ledger(2101).state == "synced"
    got = env.centra.get_order(2101)
    assert got is not None
    assert env.centra.get_external_ids([2101]) == {2101: env.ledger(2101).data["order_no"]}


def test_a_passing_confirm_failure_does_not_hold_up_the_rest_of_the_batch(
    sqlite_url: str,
) -> None:
    """A 5xx/timeout on one order's confirm (already read back and retried by the client):
    the orders after it are confirmed and synced in the same run; only that one waits."""
    env = Env(sqlite_url)
    for number in (2201, 2202, 2203):
        env.centra.add_order(replace(order(number=number, id=f"h{number}"),
                                     updated_at=env.now - timedelta(minutes=1)))
    env.flow.poll()
    env.worker.drain(["orders"])
    real = env.centra.confirm_order
    failed: list[int] = []

    def flaky(number: int) -> None:
        if number == 2202 and not failed:
            failed.append(number)
            raise AmbiguousWrite("centra confirmOrder 2202: still unconfirmed after a retry",
                                 system="centra")
        real(number)

    env.centra.confirm_order = flaky  # type: ignore[method-assign]
    env.worker.run_once(["writeback"])
    assert [env.ledger(n).state for n in (2201, 2202, 2203)] == ["synced", "posted", "synced"]
    env.now += timedelta(minutes=5)
    env.worker.drain(["writeback"])
    assert all(env.ledger(n).state == "synced" for n in (2201, 2202, 2203))
