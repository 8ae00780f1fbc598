"""The flows the overview shows. Adding a flow (payments) is one more ``Flow`` here."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FLOWS", "Flow"]


@dataclass(frozen=True, slots=True)
class Flow:
    """One flow: its queues, and its ledger rows (kind and the states that wait)."""

    name: str
    label: str
    queues: tuple[str, ...]
    ledger_kind: str | None = None
    #: Ledger states that are backlog, each with how the overview names it.
    waiting: tuple[tuple[str, str], ...] = ()


FLOWS: tuple[Flow, ...] = (
    Flow("orders", "Orders (Centra → BlueCherry)", ("orders", "writeback"), "order",
         (("new", "new"), ("waiting", "waiting (hold, payment, status)"),
          ("batch", "waiting for the daily batch"), ("parked", "parked on an exception"),
          ("posting", "posting"))),
    Flow("shipments", "Shipments (BlueCherry → Centra)", ("shipments",), "shipment",
         (("new", "read, not in Centra yet"), ("creating", "being created in Centra"),
          ("created", "created, not completed"), ("completing", "being completed"),
          ("held", "held on an exception"))),
    Flow("stock", "Stock (BlueCherry → Centra)", ("stock",)),
    Flow("intake", "Intake and checks (polls, catalogue, health)", ("intake",)),
)
