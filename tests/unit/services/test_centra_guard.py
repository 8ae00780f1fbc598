"""A Centra that refuses the order flow's operations parks order intake with one exception for
the integrator, instead of failing every poll; a clean check unparks it and resolves it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orderkit import order
from test_order_flow import Env

from seamline.adapters.centra.schema_check import SchemaProblem
from seamline.exceptions import SchemaMismatch
from seamline.services.centra_guard import CentraSchemaGuard, register_guard_tasks


class RefusingCentra:
    """What the guard asks of a gateway: ``check_schema``, answered as told."""

    def __init__(self) -> None:
        self.problems: list[SchemaProblem] = [
            SchemaProblem("orders_updated", "Order.shippingAddress", "missing",
                          'Cannot query field "shippingAddress" on type "Order".'),
            SchemaProblem("orders_page", "Order.shippingAddress", "missing",
                          'Cannot query field "shippingAddress" on type "Order".'),
        ]
        self.checks = 0

    def check_schema(self) -> list[SchemaProblem]:
        self.checks += 1
        return list(self.problems)


def _run(env: Env, task: str) -> None:
    with env.db.begin() as conn:
        assert env.queue.enqueue(conn, task, {}, business_key=f"schedule:{task}") is not None
    env.worker.drain()


def _check(env: Env) -> None:
    _run(env, "centra.schema")


def test_a_refused_field_parks_intake_with_one_exception_and_a_clean_check_unparks_it(
    sqlite_url: str,
) -> None:
    env = Env(sqlite_url)
    centra = RefusingCentra()
    register_guard_tasks(env.registry, lambda: CentraSchemaGuard(centra, store=env.store,
                                                                   clock=lambda: env.now))
    env.centra.add_order(replace(order(number=3001), updated_at=env.now - timedelta(minutes=1)))

    _check(env)
    _check(env)
    (exc,) = env.open_exceptions()
    assert (exc["type"], exc["owner"], exc["business_key"]) == (
        "CENTRA_SCHEMA_MISMATCH", "integrator", "centra:schema")
    assert exc["count"] == 2
    assert "Order.shippingAddress" in exc["message"]
    assert "orders_updated" in exc["message"]
    assert exc["details"]["parked_flows"] == ["orders"]

    # Parked: the poll runs as a job and reads nothing (no second exception, no order).
    calls_before = len(env.centra.calls)
    _run(env, "orders.poll")
    assert len(env.centra.calls) == calls_before
    assert env.ledger(3001) is None
    assert len(env.open_exceptions()) == 1

    centra.problems = []
    _check(env)
    assert env.open_exceptions() == []
    _run(env, "orders.poll")
    assert env.ledger(3001) is not None


def test_a_gateway_that_cannot_introspect_is_never_parked(sqlite_url: str) -> None:
    """The in-memory fake has no check_schema: the guard does nothing."""
    env = Env(sqlite_url)
    register_guard_tasks(env.registry, lambda: CentraSchemaGuard(env.centra, store=env.store))
    _check(env)
    assert env.open_exceptions() == []


def test_a_poll_refused_for_a_missing_field_is_one_exception_however_often_it_runs(
    sqlite_url: str,
) -> None:
    """Item 7: not raw GraphQL in EXTERNAL_ERROR per poll, but one CENTRA_SCHEMA_MISMATCH for
    the integrator naming the field and the operation, counted on each repeat."""
    env = Env(sqlite_url)

    def refuse(**_: object) -> list[object]:
        raise SchemaMismatch(
            "Centra refused operation orders_updated: Order.externalId not in this "
            "environment's schema (schema mismatch: Cannot query field \"externalId\" on type "
            "\"Order\".)", system="centra", operation="orders_updated",
            fields=["Order.externalId"])

    env.centra.iter_orders = refuse  # type: ignore[method-assign]
    for _ in range(3):
        _run(env, "orders.poll")
    (exc,) = env.open_exceptions()
    assert (exc["type"], exc["owner"], exc["business_key"], exc["count"]) == (
        "CENTRA_SCHEMA_MISMATCH", "integrator", "centra:schema", 3)
    assert "Order.externalId" in exc["message"]
    assert "orders_updated" in exc["message"]
