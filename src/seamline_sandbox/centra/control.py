"""The ``/_sandbox/`` control API (JSON): place orders, edit them as customer service would,
inject faults, size the rate limits, read the state, advance the clock, point webhooks."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from seamline_sandbox.centra.state import OrderRec
from seamline_sandbox.centra.webhooks import WebhookEmitter
from seamline_sandbox.generator import GeneratedOrder

if TYPE_CHECKING:
    from seamline_sandbox.centra.app import CentraSandbox

__all__ = ["ExplicitLine", "ExplicitOrder", "build_control_router", "generated_summary"]


class GenerateBody(BaseModel):
    count: int = Field(1, ge=1, le=50_000)
    seed: int | None = None
    inconsistent_rate: float = Field(0.0, ge=0, le=1)
    unknown_sku_rate: float = Field(0.02, ge=0, le=1)
    pickup_point_rate: float = Field(0.02, ge=0, le=1)
    hold_rate: float = Field(0.04, ge=0, le=1)
    waiting_payment_rate: float = Field(0.03, ge=0, le=1)
    #: Share of the orders of markets with a handling fee (DE, US) that carry it.
    handling_rate: float = Field(0.25, ge=0, le=1)
    #: Share of the orders of tax-exclusive markets (US) whose customer is tax exempt.
    zero_tax_rate: float = Field(0.05, ge=0, le=1)
    #: Every order gets exactly this many lines (long orders); None: 1-4 at random.
    lines: int | None = Field(None, ge=1, le=500)


class HideFieldsBody(BaseModel):
    fields: list[str] = Field(default_factory=list, max_length=500)


class FaultBody(BaseModel):
    kind: str
    count: int = Field(1, ge=1, le=1_000_000)
    match: str | None = None
    retry_after: float = Field(1.0, ge=0, le=3600)
    delay_s: float = Field(0.0, ge=0, le=600)


class RatesBody(BaseModel):
    rates: dict[str, float]
    seed: int | None = None
    match: str | None = None
    retry_after: float = Field(1.0, ge=0, le=3600)
    delay_s: float = Field(0.0, ge=0, le=600)


class RateLimitBody(BaseModel):
    sizes: dict[str, int] | None = None
    enabled: bool | None = None
    retry_after: float | None = Field(None, ge=-1, le=3600)
    retry_after_format: str | None = None


class TokenBody(BaseModel):
    token: str = Field(min_length=1, max_length=500)
    permissions: list[str] | None = None
    integration: str = "seamline"


class AddressBody(BaseModel):
    which: str = Field("shipping", pattern="^(shipping|billing)$")
    fields: dict[str, str]


class LineQtyBody(BaseModel):
    quantity: int = Field(ge=0, le=10_000)


class CancelLinesBody(BaseModel):
    lines: list[tuple[int, int]]
    release: bool = True


class StockBody(BaseModel):
    warehouse: int
    sku: str
    physical: int = Field(ge=0, le=10**9)


class ClockBody(BaseModel):
    seconds: float = Field(ge=0, le=10**8)


class WebhookBody(BaseModel):
    url: str | None = None
    secret: str = ""
    retries: int = Field(0, ge=0, le=10)
    timeout: float = Field(5.0, gt=0, le=60)


class RefundBody(BaseModel):
    """A refund made by a person in Centra's admin (a return or a goodwill refund)."""

    amount: str = Field(pattern=r"^\d{1,9}(\.\d{1,3})?$")


class ExplicitLine(BaseModel):
    sku: str | None = None
    ean: str | None = None
    quantity: int = Field(1, ge=1, le=1000)
    campaign_percent: float = Field(0, ge=0, lt=100)
    line_discount_percent: float = Field(0, ge=0, lt=100)


class ExplicitOrder(BaseModel):
    market_id: int = 1
    lines: list[ExplicitLine] = Field(min_length=1, max_length=500)
    number: int | None = Field(None, ge=1, le=2**31 - 1)
    voucher_percent: float = Field(0, ge=0, le=100)
    voucher_fixed: str | None = Field(None, pattern=r"^\d{1,9}(\.\d{1,3})?$")
    shipping_option: str | None = None
    status: str = Field("PENDING", pattern="^(PENDING|CONFIRMED)$")
    on_hold: bool = False
    waiting_for_payment: bool = False
    inconsistent: bool = False
    order_date: datetime | None = None
    #: A handling fee in the price mode (taxed at the market's standard rate).
    handling: str | None = Field(None, pattern=r"^\d{1,9}(\.\d{1,3})?$")
    #: A tax-exempt customer (tax-exclusive markets only: every tax 0).
    tax_exempt: bool = False


def generated_summary(g: GeneratedOrder) -> dict[str, Any]:
    return {
        "number": g.number, "market": g.market.code, "currency": g.expected_currency,
        "postable": g.postable, "expected_exception": g.expected_exception,
        "expected_missing": list(g.expected_missing), "waits_for": g.waits_for,
        "expected_total": g.expected_total, "expected_lines": [list(x) for x in
                                                               g.expected_lines],
        "status": g.status, "shipping_option": g.shipping_option,
        "tax_exempt": g.tax_exempt,
        "expected_charges": [{"type": t, "amount": format(a, "f"), "tax": format(x, "f")}
                             for t, a, x in g.expected_charges],
        "totals": {k: (format(v, "f") if isinstance(v, Decimal) else
                       [[format(a, "f") for a in t] if isinstance(t, tuple) else format(t, "f")
                        for t in v])
                   for k, v in asdict(g.totals).items()},
    }


def order_state(sb: CentraSandbox, o: OrderRec) -> dict[str, Any]:
    return {
        "number": o.number, "id": o.id, "status": o.status, "market": o.market.code,
        "currency": o.currency, "isOnHold": o.is_on_hold,
        "isWaitingForPayment": o.is_waiting_for_payment, "isLocked": o.is_locked,
        "externalId": o.external_id, "updatedAt": o.updated_at.isoformat(),
        "grandTotal": format(o.grand_total, "f"),
        "handling": format(o.totals.handling, "f"), "taxExempt": o.tax_exempt,
        "lines": [{"id": ln.id, "sku": ln.item.sku, "quantity": ln.quantity,
                   "cancelled": ln.cancelled, "inShipments": ln.in_shipments,
                   "shipped": ln.shipped} for ln in o.lines],
        "shipments": [sb.state.shipments[i].number for i in o.shipment_ids],
        "payments": [{"type": p.entry_type, "status": p.status, "value": format(p.value, "f"),
                      "reference": p.external_reference} for p in o.payments],
    }


def build_control_router(sb: CentraSandbox) -> APIRouter:
    r = APIRouter()
    st = sb.state

    def order(number: int) -> OrderRec:
        o = st.orders.get(number)
        if o is None:
            raise HTTPException(404, f"order {number} not found")
        return o

    @r.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "orders": len(st.orders), "seed": st.seed}

    @r.post("/orders/generate")
    def generate(body: GenerateBody) -> list[dict[str, Any]]:
        knobs = body.model_dump(exclude={"count", "seed"})
        return [generated_summary(g) for g in st.generate(body.count, seed=body.seed, **knobs)]

    @r.post("/orders")
    def place(body: ExplicitOrder) -> dict[str, Any]:
        return generated_summary(sb.place_explicit(body))

    @r.get("/orders")
    def orders() -> list[dict[str, Any]]:
        with st.lock:
            return [order_state(sb, o) for o in st.orders.values()]

    @r.get("/orders/{number}")
    def one(number: int) -> dict[str, Any]:
        with st.lock:
            o = order(number)
            g = st.generated.get(number)
            return {**order_state(sb, o), "expected": None if g is None
                    else generated_summary(g)}

    @r.post("/orders/{number}/release-hold")
    def release(number: int) -> dict[str, Any]:
        st.set_hold(order(number), False)
        return order_state(sb, order(number))

    @r.post("/orders/{number}/hold")
    def hold(number: int) -> dict[str, Any]:
        st.set_hold(order(number), True)
        return order_state(sb, order(number))

    @r.post("/orders/{number}/mark-paid")
    def paid(number: int) -> dict[str, Any]:
        st.mark_paid(order(number))
        return order_state(sb, order(number))

    @r.post("/orders/{number}/cancel")
    def cancel(number: int) -> dict[str, Any]:
        st.cancel_order(order(number))
        return order_state(sb, order(number))

    @r.post("/orders/{number}/refund")
    def refund(number: int, body: RefundBody) -> dict[str, Any]:
        st.refund(order(number), Decimal(body.amount))
        return order_state(sb, order(number))

    @r.post("/orders/{number}/cancel-lines")
    def cancel_lines(number: int, body: CancelLinesBody) -> dict[str, Any]:
        action = "RELEASE_BACK_TO_WAREHOUSE" if body.release else "REMOVE_FROM_STOCK"
        st.cancel_lines(order(number), [(lid, qty, action) for lid, qty in body.lines])
        return order_state(sb, order(number))

    @r.post("/orders/{number}/address")
    def address(number: int, body: AddressBody) -> dict[str, Any]:
        st.edit_address(order(number), body.which, body.fields)
        return order_state(sb, order(number))

    @r.post("/orders/{number}/lines/{line_id}")
    def line_qty(number: int, line_id: int, body: LineQtyBody) -> dict[str, Any]:
        st.edit_line_quantity(order(number), line_id, body.quantity)
        return order_state(sb, order(number))

    @r.get("/shipments")
    def shipments() -> list[dict[str, Any]]:
        with st.lock:
            return [{"id": s.id, "number": s.number, "order": s.order_number,
                     "lines": [list(x) for x in s.lines], "isShipped": s.is_shipped,
                     "isPaid": s.is_paid, "isCaptured": s.is_captured, "carrier": s.carrier,
                     "service": s.service, "tracking": s.tracking,
                     "externalId": s.external_id} for s in st.shipments.values()]

    @r.get("/stock")
    def stock(warehouse: int | None = None, sku: str | None = None) -> list[dict[str, Any]]:
        with st.lock:
            return [st.stock_row(wh, sid) for (wh, sid) in sorted(st.inventory)
                    if (warehouse is None or wh == warehouse)
                    and (sku is None or st.items_by_size[sid].sku == sku)]

    @r.post("/stock")
    def set_stock(body: StockBody) -> dict[str, Any]:
        item = st.find_size({"SKU": body.sku})
        _, warnings = st.set_stock(body.warehouse, [(item, body.physical)],
                                   free_to_allocate=False, description="control API")
        return {**st.stock_row(body.warehouse, item.size_id),
                "warnings": [message for _, message in warnings]}

    @r.get("/emails")
    def emails() -> list[dict[str, Any]]:
        return list(st.emails)

    @r.get("/id-conversions")
    def id_conversions() -> list[dict[str, Any]]:
        return [{"id": c.id, "integration": c.integration, "objectType": c.object_type,
                 "internalId": c.internal_id, "externalId": c.external_id}
                for c in st.id_conversions.values()]

    @r.get("/schema/hidden-fields")
    def hidden_fields() -> dict[str, Any]:
        return {"fields": list(sb.hidden_fields)}

    @r.post("/schema/hidden-fields")
    def hide(body: HideFieldsBody) -> dict[str, Any]:
        """Serve the published schema without these ``Type.field`` entries ([] restores it)."""
        sb.set_hidden_fields(body.fields)
        return {"fields": list(sb.hidden_fields)}

    @r.get("/events")
    def events() -> list[dict[str, Any]]:
        return [{"id": e.id, "integration": e.integration, "objectType": e.object_type,
                 "changeType": e.change_type, "reference": e.reference} for e in st.events]

    @r.get("/faults")
    def faults() -> dict[str, Any]:
        return sb.faults.snapshot()

    @r.post("/faults")
    def add_fault(body: FaultBody) -> dict[str, Any]:
        sb.faults.add(body.kind, body.count, match=body.match, retry_after=body.retry_after,
                      delay_s=body.delay_s)
        return sb.faults.snapshot()

    @r.post("/faults/rates")
    def fault_rates(body: RatesBody) -> dict[str, Any]:
        sb.faults.set_rates(body.rates, body.seed, match=body.match,
                            retry_after=body.retry_after, delay_s=body.delay_s)
        return sb.faults.snapshot()

    @r.delete("/faults")
    def clear_faults() -> dict[str, Any]:
        sb.faults.clear()
        return sb.faults.snapshot()

    @r.get("/rate-limits")
    def rate_limits() -> list[dict[str, Any]]:
        return sb.limiter.snapshot()

    @r.post("/rate-limits")
    def set_rate_limits(body: RateLimitBody) -> list[dict[str, Any]]:
        sb.limiter.configure(sizes=body.sizes, enabled=body.enabled,
                             retry_after=body.retry_after,
                             retry_after_format=body.retry_after_format)
        return sb.limiter.snapshot()

    @r.post("/tokens")
    def add_token(body: TokenBody) -> dict[str, Any]:
        sb.add_token(body.token, body.permissions, body.integration)
        return {"token": body.token, "permissions": body.permissions}

    @r.post("/clock/advance")
    def advance(body: ClockBody) -> dict[str, Any]:
        st.clock.advance(body.seconds)
        return {"now": st.now().isoformat()}

    @r.post("/webhooks")
    def webhooks(body: WebhookBody) -> dict[str, Any]:
        if sb.webhooks is not None:
            sb.webhooks.close()
            sb.webhooks = None
        if body.url:
            sb.webhooks = WebhookEmitter(body.url, body.secret, body.retries, body.timeout)
        return {"url": body.url}

    @r.get("/webhooks")
    def webhook_log() -> dict[str, Any]:
        w = sb.webhooks
        return {"url": None if w is None else w.url,
                "delivered": [] if w is None else w.delivered,
                "dropped": [] if w is None else w.dropped}

    return r
