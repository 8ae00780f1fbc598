"""The Centra schema guard: a flow whose Centra operations the environment refuses is parked
with one exception for the integrator, instead of failing every poll.

At start-up (the ``centra-schema`` schedule's first tick) and then every quarter of an hour, the
guard asks the Centra gateway to hold every operation Seamline sends against the schema the
environment serves and the token may read (``check_schema``: introspection, validation, one
small read each). A problem opens (or counts a repeat of) one ``CENTRA_SCHEMA_MISMATCH``
exception keyed ``centra:schema`` naming each field and operation, and records the flows it
stops under the cursor ``centra:parked-flows``; the intake tasks of a parked flow then skip their
run (logged) instead of raising the same refusal every minute. A clean check resolves the
exception and unparks the flows. A gateway that cannot introspect (the in-memory fake) is
never parked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from seamline.clock import utcnow
from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.unit_of_work import JobScope, Store, UnitOfWork

__all__ = ["PARKED_CURSOR", "SCHEMA_KEY", "CentraSchemaGuard", "parked_flows",
           "register_guard_tasks"]

SCHEMA_KEY = "centra:schema"
PARKED_CURSOR = "centra:parked-flows"
EXCEPTION_TYPE = "CENTRA_SCHEMA_MISMATCH"


class Finding(Protocol):
    """One refused field or permission (``seamline.adapters.centra.schema_check``)."""

    @property
    def flows(self) -> tuple[str, ...]: ...

    @property
    def operation(self) -> str: ...

    @property
    def field(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def line(self) -> str: ...


def parked_flows(uow: UnitOfWork) -> set[str]:
    """The flows the last schema check parked (empty when none is)."""
    value = uow.cursors.get(PARKED_CURSOR) or ""
    return {f for f in value.split(",") if f}


class CentraSchemaGuard:
    """Runs the check and parks or unparks flows; see the module docstring."""

    def __init__(self, centra: object, *, store: Store,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.centra = centra
        self.store = store
        self.clock = clock or utcnow

    def findings(self) -> Sequence[Finding] | None:
        """The gateway's findings, or None when it cannot check (no ``check_schema``)."""
        check = getattr(self.centra, "check_schema", None)
        if not callable(check):
            return None
        found: Sequence[Finding] = check()
        return found

    def run(self, ctx: JobScope) -> set[str]:
        """Check, then record the outcome in one transaction. Returns the parked flows."""
        findings = self.findings()
        if findings is None:
            return set()
        flows = sorted({f for p in findings for f in p.flows})
        now = self.clock()
        with self.store.for_job(ctx) as uow:
            if findings:
                lines = [p.line() for p in findings]
                parked = ", ".join(flows) if flows else "no flow (later flows' operations)"
                uow.exceptions.raise_(
                    type=EXCEPTION_TYPE, owner="integrator", business_key=SCHEMA_KEY,
                    message=(f"Centra refuses {len(findings)} field(s) Seamline reads; parked: "
                             f"{parked}. " + " | ".join(lines[:5])
                             + (" …" if len(lines) > 5 else "")),
                    details={"parked_flows": flows, "problems": [
                        {"operation": p.operation, "field": p.field, "kind": p.kind,
                         "flows": list(p.flows), "line": p.line()} for p in findings]},
                    now=now,
                )
            else:
                uow.exceptions.resolve_for_key(SCHEMA_KEY, types=[EXCEPTION_TYPE],
                                               note="every Centra operation validates again",
                                               now=now)
            uow.cursors.set(PARKED_CURSOR, ",".join(flows), now=now)
        return set(flows)


def register_guard_tasks(registry: TaskRegistry,
                         guard_factory: Callable[[], CentraSchemaGuard]) -> None:
    """Register ``centra.schema`` (the check) on the intake queue."""

    def check(ctx: JobContext, args: dict[str, Any]) -> None:
        parked = guard_factory().run(ctx)
        if parked:
            ctx.log.warning("centra schema check parked flows", flows=sorted(parked))

    registry.register("centra.schema", check, queue="intake")
