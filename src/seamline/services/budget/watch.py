"""The dispatch-delay watch (``centra.budget``, every minute).

It announces the shipments waiting for Centra (each costs ``MUTATIONS_PER_SHIPMENT``: create,
then complete with the dispatch email) as the shipments flow's backlog on the budget, then reads
the budget's view: when that backlog, at the sustainable mutation rate, would hold dispatch
emails back more than ``[centra.budget].dispatch_delay_alert_min``, it raises
``CENTRA_BUDGET_DELAY`` (owner ``[centra.budget].delay_owner``); once it would not, the exception
resolves itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from seamline.config import BudgetSettings
from seamline.domain.shipments import PENDING_STATES
from seamline.ports import BudgetView, CentraBudget
from seamline.services.shipments.core import KIND
from seamline.services.unit_of_work import Store, Tx

__all__ = ["DELAY_KEY", "DELAY_TYPE", "MUTATIONS_PER_SHIPMENT", "BudgetWatch"]

DELAY_TYPE = "CENTRA_BUDGET_DELAY"
DELAY_KEY = "centra-budget:dispatch"
#: ``createShipment`` then ``completeShipment`` (which sends the dispatch email).
MUTATIONS_PER_SHIPMENT = 2


def _now() -> datetime:
    return datetime.now(UTC)


class BudgetWatch:
    def __init__(self, store: Store, budget: CentraBudget, settings: BudgetSettings, *,
                 clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.budget = budget
        self.settings = settings
        self.clock = clock

    def waiting_shipments(self) -> int:
        """BlueCherry shipments read but not yet shipped in Centra."""
        with self.store.read() as uow:
            return sum(len(uow.ledger.in_state(KIND, s.value)) for s in PENDING_STATES)

    def current(self) -> tuple[int, BudgetView]:
        """Announce the waiting shipments as the shipments flow's backlog, and read the
        budget's view (``seamline centra budget``, the dashboard): ``(shipments, view)``."""
        waiting = self.waiting_shipments()
        self.budget.announce("shipments", waiting * MUTATIONS_PER_SHIPMENT)
        return waiting, self.budget.view()

    def run(self, tx: Tx | None = None) -> BudgetView:
        """The watch: ``current()``, then raise or resolve ``CENTRA_BUDGET_DELAY``."""
        waiting, view = self.current()
        with (tx or self.store.begin)() as uow:
            if view.dispatch_delayed:
                minutes = view.drain_s.get("shipments", 0.0) / 60
                uow.exceptions.raise_(
                    type=DELAY_TYPE, owner=self.settings.delay_owner, severity="warning",
                    business_key=DELAY_KEY,
                    message=(f"{waiting} shipment(s) wait for Centra's API budget: dispatch "
                             f"emails would go out about {minutes:.0f} min late (limit "
                             f"{self.settings.dispatch_delay_alert_min} min); see the runbook, "
                             "'The Centra budget'"),
                    details={"waiting_shipments": waiting, "drain_min": round(minutes, 1),
                             "mutations_per_hour": round(view.mutation_rate * 3600, 1),
                             "backlog": dict(view.backlog)},
                    now=self.clock())
            else:
                uow.exceptions.resolve_for_key(DELAY_KEY, types=[DELAY_TYPE],
                                               note="the shipment backlog drains in time",
                                               now=self.clock())
        return view
