"""Centra contract-suite fixtures: one ``CentraWorld`` per implementation.

A world owns a gateway (``FakeCentra`` or ``CentraClient`` against the sandbox over real HTTP)
plus the test-only levers the suite needs (place orders, flip flags, inject faults, read the
emails sent and the stock), so every contract test runs unchanged against both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx
import pytest
from pydantic import SecretStr

from seamline.adapters.centra import CentraClient, InlineRetry
from seamline.config import CentraSettings, RateLimitSettings
from seamline.domain.money import Money
from seamline.domain.orders import Address, CentraOrder, OrderLine, OrderStatus
from seamline.testing.centra import FakeCentra
from seamline_sandbox.centra.app import create_app
from seamline_sandbox.serve import ServerThread

#: Logical fault targets → (FakeCentra method pattern, sandbox operation pattern).
FAULT_TARGETS = {
    "read": ("get_*", "query:*"),
    "create_shipment": ("create_shipment", "mutation:createShipment"),
    "confirm_order": ("confirm_order", "mutation:confirmOrder"),
    "set_stock": ("set_stock", "mutation:setStock"),
    "complete_shipment": ("complete_shipment", "mutation:completeShipment"),
    "cancel_order_lines": ("cancel_order_lines", "mutation:updateDirectToConsumerOrder"),
}

FAST_RETRY = InlineRetry(attempts=4, budget_s=10, wait_initial_s=0.01, wait_max_s=0.05,
                         wait_jitter_s=0.0, max_inline_wait_s=2.0)


@dataclass(frozen=True)
class Sku:
    warehouse: int
    sku: str
    ean: str


class CentraWorld(Protocol):
    name: str
    gateway: Any

    def now(self) -> datetime: ...

    def place_order(self, *, on_hold: bool = False, waiting_for_payment: bool = False) -> int:
        """A new PENDING direct-to-consumer order with at least one line; its number."""
        ...

    def set_hold(self, number: int, on_hold: bool) -> None: ...

    def inject(self, kind: str, target: str, *, times: int = 1,
               retry_after: float = 1.0) -> None: ...

    def emails(self) -> list[str]:
        """Shipment numbers whose shipping confirmation email was sent."""
        ...

    def physical(self, warehouse: int, sku: str) -> int: ...

    def a_sku(self) -> Sku: ...

    def advance(self, seconds: float) -> None: ...


class FakeWorld:
    name = "fake"

    def __init__(self) -> None:
        self._t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.gateway = FakeCentra(clock=self, max_inline_wait_s=FAST_RETRY.max_inline_wait_s)
        self._n = 5000

    def now(self) -> datetime:
        self._t += timedelta(milliseconds=1)
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += timedelta(seconds=seconds)

    def place_order(self, *, on_hold: bool = False, waiting_for_payment: bool = False) -> int:
        self._n += 1
        n = self._n

        def sek(v: str) -> Money:
            return Money.of(v, "SEK")

        now = self.now()
        order = CentraOrder(
            id=f"h{n:08x}", number=n, status=OrderStatus.PENDING, store_id=1, market_id=1,
            market_name="Sweden", currency="SEK", prices_include_tax=True, order_date=now,
            created_at=now, updated_at=now, is_on_hold=on_hold,
            is_waiting_for_payment=waiting_for_payment, shipping_option="se-standard",
            customer_email="asa@example.com",
            shipping_address=Address(first_name="Åsa", country="SE"),
            lines=(OrderLine(id=n * 10 + 1, sku="KNIT-BLK-M", ean="0012345678905",
                             quantity=2, unit_original_price=sek("500"),
                             unit_price=sek("500"), line_value=sek("1000"),
                             tax_percent=Decimal(25), tax=sek("200")),
                   OrderLine(id=n * 10 + 2, sku="TEE-WHT-S", ean="0012345678912",
                             quantity=1, unit_original_price=sek("300"),
                             unit_price=sek("300"), line_value=sek("300"),
                             tax_percent=Decimal(25), tax=sek("60"))),
            shipping=sek("49"), shipping_tax=sek("9.80"), handling=sek("0"),
            voucher_discount=sek("0"),
            tax_total=sek("269.80"), grand_total=sek("1349"))
        self.gateway.add_order(order)
        return n

    def set_hold(self, number: int, on_hold: bool) -> None:
        self.gateway.update_order(number, is_on_hold=on_hold)

    def inject(self, kind: str, target: str, *, times: int = 1,
               retry_after: float = 1.0) -> None:
        self.gateway.inject(kind, times=times, match=FAULT_TARGETS[target][0],
                            retry_after=retry_after)

    def emails(self) -> list[str]:
        return [self.gateway.shipments[e.shipment_id].number for e in self.gateway.emails]

    def physical(self, warehouse: int, sku: str) -> int:
        return int(self.gateway.stock.get((warehouse, sku), 0))

    def a_sku(self) -> Sku:
        self.gateway.ean_to_sku["0012345678905"] = "KNIT-BLK-M"
        # Like Centra, the fake knows its catalogue: setStock refuses any other size.
        self.gateway.known_skus = {"KNIT-BLK-M"}
        return Sku(1, "KNIT-BLK-M", "0012345678905")

    def close(self) -> None:
        pass


SANDBOX_TOKEN = "sandbox-centra-token"


class SandboxWorld:
    """``CentraClient`` over real HTTP against the sandbox served by ``ServerThread``."""

    name = "sandbox"

    def __init__(self) -> None:
        self.app = create_app(seed=7, token=SANDBOX_TOKEN)
        self.server = ServerThread(self.app).start()
        self.control = httpx.Client(base_url=f"{self.server.url}/_sandbox", timeout=10)
        settings = CentraSettings(
            base_url=f"{self.server.url}/graphql", token=SecretStr(SANDBOX_TOKEN),
            timeout_s=5.0, page_size=50,
            rate_limits=RateLimitSettings(requests_per_10s=10_000, requests_per_hour=1_000_000,
                                          mutations_per_10s=10_000,
                                          mutations_per_hour=1_000_000,
                                          complexity_per_10s=100_000_000,
                                          complexity_per_hour=1_000_000_000))
        self.gateway = CentraClient(settings, retry=FAST_RETRY)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.control.post(path, json=body or {})
        r.raise_for_status()
        return r.json()

    def _get(self, path: str, **params: Any) -> Any:
        r = self.control.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def now(self) -> datetime:
        return datetime.fromisoformat(self._post("/clock/advance", {"seconds": 0})["now"])

    def advance(self, seconds: float) -> None:
        self._post("/clock/advance", {"seconds": seconds})

    def _free_skus(self, n: int) -> list[str]:
        rows = self._get("/stock", warehouse=1)
        free = [r["sku"] for r in rows if r["freeToAllocate"] >= 5]
        assert len(free) >= n, "the sandbox has too little free stock for the contract suite"
        return free[:n]

    def place_order(self, *, on_hold: bool = False, waiting_for_payment: bool = False) -> int:
        skus = self._free_skus(2)
        r = self.control.post("/orders", json={
            "market_id": 1, "status": "PENDING", "on_hold": on_hold,
            "waiting_for_payment": waiting_for_payment,
            "lines": [{"sku": skus[0], "quantity": 2}, {"sku": skus[1], "quantity": 1}]})
        if r.status_code == 200:
            return int(r.json()["number"])
        # The explicit-order endpoint is not usable (yet): generate until a PENDING order
        # with the wanted flags and only known SKUs comes out.
        for _ in range(50):
            out = self._post("/orders/generate", {
                "count": 1, "hold_rate": 1.0 if on_hold else 0.0,
                "waiting_payment_rate": 1.0 if waiting_for_payment else 0.0,
                "unknown_sku_rate": 0.0, "pickup_point_rate": 0.0})
            if out[0]["status"] == "PENDING":
                return int(out[0]["number"])
        raise AssertionError("the sandbox generated no PENDING order in 50 tries")

    def set_hold(self, number: int, on_hold: bool) -> None:
        self._post(f"/orders/{number}/{'hold' if on_hold else 'release-hold'}")

    def inject(self, kind: str, target: str, *, times: int = 1,
               retry_after: float = 1.0) -> None:
        self._post("/faults", {"kind": kind, "count": times, "match": FAULT_TARGETS[target][1],
                               "retry_after": retry_after})

    def emails(self) -> list[str]:
        return [str(e["shipment"]) for e in self._get("/emails")]

    def physical(self, warehouse: int, sku: str) -> int:
        rows = self._get("/stock", warehouse=warehouse, sku=sku)
        return int(rows[0]["physical"]) if rows else 0

    def a_sku(self) -> Sku:
        row = self._get("/stock", warehouse=1)[0]
        return Sku(1, str(row["sku"]), str(row["ean"]))

    def close(self) -> None:
        self.gateway.close()
        self.control.close()
        self.server.stop()


@pytest.fixture(name="centra_world", params=["fake", "sandbox"])
def centra_world_fixture(request: pytest.FixtureRequest) -> Iterator[CentraWorld]:
    """Each contract test runs once on FakeCentra and once on CentraClient + sandbox."""
    if request.param == "fake":
        world: FakeWorld | SandboxWorld = FakeWorld()
    else:
        world = SandboxWorld()
    try:
        yield world
    finally:
        world.close()
