"""The BlueCherry sales order Seamline posts, in canonical form. Pure data, no I/O.

``to_dict``/``from_dict`` give the canonical JSON-safe form (money as strings with exactly the
currency's minor-unit decimals). That form is what the ledger freezes once an attempt may have
reached BlueCherry, so every retry sends the same order. The BlueCherry adapter translates it to
the wire in one module (``seamline.adapters.bluecherry.translate``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from seamline.domain.money import Money

__all__ = ["Charge", "PostalAddress", "SalesOrder", "SalesOrderLine", "SalesOrderTotals"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PostalAddress:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    email: str = ""
    phone: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name, "line1": self.line1, "line2": self.line2, "city": self.city,
            "region": self.region, "postal_code": self.postal_code, "country": self.country,
            "email": self.email, "phone": self.phone,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PostalAddress:
        return cls(**{k: str(d.get(k, "") or "") for k in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesOrderLine:
    line_no: int
    upc: str
    sku: str
    quantity: int
    #: Original (pricelist) unit price, in the price mode.
    unit_price: Money
    #: Everything that brought the line below ``unit_price × quantity`` (whole line).
    discount: Money
    #: Tax on the line after discount.
    tax: Money
    tax_rate: Decimal
    #: Centra's order line id this line came from (kept on the ledger, not sent).
    centra_line_id: int

    @property
    def net(self) -> Money:
        return self.unit_price.times(self.quantity) - self.discount


@dataclass(frozen=True, kw_only=True, slots=True)
class Charge:
    type: str
    amount: Money
    tax: Money
    tax_rate: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesOrderTotals:
    merchandise: Money
    discount: Money
    charges: Money
    tax: Money
    total: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesOrder:
    customer_po: str
    external_reference: str
    division: str
    warehouse: str
    customer: str
    store: str
    order_type: str
    season: str
    terms: str
    ship_via: str
    order_date: date
    start_date: date
    cancel_date: date
    currency: str
    prices_include_tax: bool
    bill_to: PostalAddress
    ship_to: PostalAddress
    lines: tuple[SalesOrderLine, ...]
    charges: tuple[Charge, ...] = ()
    totals: SalesOrderTotals
    #: Not sent: kept on the ledger for reporting.
    conversion_rate: Decimal = field(default=Decimal(1))

    # -- canonical form -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_po": self.customer_po,
            "external_reference": self.external_reference,
            "division": self.division,
            "warehouse": self.warehouse,
            "customer": self.customer,
            "store": self.store,
            "order_type": self.order_type,
            "season": self.season,
            "terms": self.terms,
            "ship_via": self.ship_via,
            "order_date": self.order_date.isoformat(),
            "start_date": self.start_date.isoformat(),
            "cancel_date": self.cancel_date.isoformat(),
            "currency": self.currency,
            "prices_include_tax": self.prices_include_tax,
            "bill_to": self.bill_to.to_dict(),
            "ship_to": self.ship_to.to_dict(),
            "lines": [
                {
                    "line_no": ln.line_no, "upc": ln.upc, "sku": ln.sku, "quantity": ln.quantity,
                    "unit_price": ln.unit_price.wire(), "discount": ln.discount.wire(),
                    "tax": ln.tax.wire(), "tax_rate": _rate(ln.tax_rate),
                    "centra_line_id": ln.centra_line_id,
                }
                for ln in self.lines
            ],
            "charges": [
                {"type": c.type, "amount": c.amount.wire(), "tax": c.tax.wire(),
                 "tax_rate": _rate(c.tax_rate)}
                for c in self.charges
            ],
            "totals": {
                "merchandise": self.totals.merchandise.wire(),
                "discount": self.totals.discount.wire(),
                "charges": self.totals.charges.wire(),
                "tax": self.totals.tax.wire(),
                "total": self.totals.total.wire(),
            },
            "conversion_rate": str(self.conversion_rate),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SalesOrder:
        cur = str(d["currency"])

        def m(v: Any) -> Money:
            return Money.of(v, cur)

        t = d["totals"]
        return cls(
            customer_po=str(d["customer_po"]),
            external_reference=str(d["external_reference"]),
            division=str(d["division"]),
            warehouse=str(d["warehouse"]),
            customer=str(d["customer"]),
            store=str(d["store"]),
            order_type=str(d["order_type"]),
            season=str(d["season"]),
            terms=str(d["terms"]),
            ship_via=str(d["ship_via"]),
            order_date=date.fromisoformat(d["order_date"]),
            start_date=date.fromisoformat(d["start_date"]),
            cancel_date=date.fromisoformat(d["cancel_date"]),
            currency=cur,
            prices_include_tax=bool(d["prices_include_tax"]),
            bill_to=PostalAddress.from_dict(d["bill_to"]),
            ship_to=PostalAddress.from_dict(d["ship_to"]),
            lines=tuple(
                SalesOrderLine(
                    line_no=int(ln["line_no"]), upc=str(ln["upc"]), sku=str(ln["sku"]),
                    quantity=int(ln["quantity"]), unit_price=m(ln["unit_price"]),
                    discount=m(ln["discount"]), tax=m(ln["tax"]),
                    tax_rate=Decimal(str(ln["tax_rate"])),
                    centra_line_id=int(ln["centra_line_id"]),
                )
                for ln in d["lines"]
            ),
            charges=tuple(
                Charge(type=str(c["type"]), amount=m(c["amount"]), tax=m(c["tax"]),
                       tax_rate=Decimal(str(c.get("tax_rate", "0"))))
                for c in d.get("charges", [])
            ),
            totals=SalesOrderTotals(
                merchandise=m(t["merchandise"]), discount=m(t["discount"]),
                charges=m(t["charges"]), tax=m(t["tax"]), total=m(t["total"]),
            ),
            conversion_rate=Decimal(str(d.get("conversion_rate", "1"))),
        )

    def posted_hash(self) -> str:
        """A stable hash over the fields that are posted (the change detector's baseline)."""
        body = self.to_dict()
        body.pop("conversion_rate", None)
        raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()

    def line_map(self) -> dict[int, int]:
        """Centra order line id → BlueCherry ``line_no``."""
        return {ln.centra_line_id: ln.line_no for ln in self.lines}


def _rate(rate: Decimal) -> str:
    """Two decimals (``"25.00"``), or every decimal a finer rate has (``"8.875"``)."""
    quantised = rate.quantize(Decimal("0.01"))
    return format(quantised if quantised == rate else rate.normalize(), "f")
