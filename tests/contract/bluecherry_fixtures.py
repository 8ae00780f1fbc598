"""Shared test data for the BlueCherry port: master data and catalogue from the sandbox world,
and valid canonical sales orders built from it (any market of the world)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from seamline.domain.erp import CatalogueItem, Customer, MasterData
from seamline.domain.money import Money
from seamline.domain.sales_order import (
    Charge,
    PostalAddress,
    SalesOrder,
    SalesOrderLine,
    SalesOrderTotals,
)
from seamline.testing.bluecherry import FakeBlueCherry
from seamline_sandbox import world as w

WORLD = w.build_world(1)
_counter = itertools.count(1)


def world_master_data() -> MasterData:
    return MasterData(
        divisions=frozenset(w.BC_DIVISIONS),
        warehouses={code: div for code, (_, div) in w.BC_WAREHOUSES.items()},
        customers={
            code: Customer(code=code, division=div, currency=cur, terms=terms, stores=stores)
            for code, (_, div, cur, terms, stores) in w.BC_CUSTOMERS.items()
        },
        ship_vias=frozenset(w.BC_SHIP_VIAS),
        order_types=frozenset(w.BC_ORDER_TYPES),
        terms=frozenset(w.BC_TERMS),
        seasons={code: frozenset({div}) for code, (_, div) in w.BC_SEASONS.items()},
    )


def world_catalogue() -> list[CatalogueItem]:
    return [
        CatalogueItem(sku=i.sku, upc=i.upc, style=i.style, color=i.colour, size=i.size,
                      description=i.name)
        for i in WORLD.bluecherry_items()
    ]


def new_fake() -> FakeBlueCherry:
    return FakeBlueCherry(world_master_data(), world_catalogue())


def unique_po(prefix: str = "T") -> str:
    return f"{prefix}{next(_counter):07d}"


def make_order(
    *, market: int = 1, po: str | None = None, lines: int = 2, quantity: int = 2,
    with_discount: bool = True, item_offset: int = 0, **overrides: Any,
) -> SalesOrder:
    """A valid order for a world market (totals tie out exactly as the contract defines)."""
    m = WORLD.market(market)
    codes = w.MARKET_CODES[market]
    cur = m.currency
    po = po or unique_po()
    items = WORLD.bluecherry_items()
    built: list[SalesOrderLine] = []
    rate = m.tax_rate
    for i in range(lines):
        item = items[(item_offset + i * 7) % len(items)]
        unit = Money.of(WORLD.price(item, m), cur)
        gross = unit.times(quantity)
        discount = (Money.of((gross.amount / 10).quantize(Money.zero(cur).amount), cur)
                    if with_discount else Money.zero(cur))
        net = gross - discount
        if m.prices_include_tax:
            tax_amt = net.amount * rate / (100 + rate)
        else:
            tax_amt = net.amount * rate / 100
        tax = Money.of(tax_amt.quantize(Money.zero(cur).amount), cur)
        built.append(SalesOrderLine(
            line_no=i + 1, upc=item.upc, sku=item.sku, quantity=quantity, unit_price=unit,
            discount=discount, tax=tax, tax_rate=rate, centra_line_id=1000 + i,
        ))
    freight = Money.of(m.shipping_price, cur)
    if m.prices_include_tax:
        ftax_amt = freight.amount * rate / (100 + rate)
    else:
        ftax_amt = freight.amount * rate / 100
    ftax = Money.of(ftax_amt.quantize(Money.zero(cur).amount), cur)
    charges = (Charge(type="FREIGHT", amount=freight, tax=ftax, tax_rate=rate),)
    zero = Money.zero(cur)
    merch = sum((ln.unit_price.times(ln.quantity) for ln in built), zero)
    disc = sum((ln.discount for ln in built), zero)
    tax = sum((ln.tax for ln in built), zero) + ftax
    total = merch - disc + freight + (zero if m.prices_include_tax else tax)
    today = date(2026, 11, 28)
    address = PostalAddress(name="Alva Test", line1="Götgatan 1", city="Stockholm",
                            postal_code="11621", country=m.country, email="alva@example.com")
    order = SalesOrder(
        customer_po=po, external_reference=f"centra:{codes['store']}:{po}",
        division=codes["division"], warehouse=codes["warehouse"], customer=codes["customer"],
        store=codes["store"], order_type="ECOM", season="FW26", terms="PREPAID",
        ship_via=w.SHIPPING_CODES[m.shipping_option], order_date=today, start_date=today,
        cancel_date=today + timedelta(days=14), currency=cur,
        prices_include_tax=m.prices_include_tax, bill_to=address, ship_to=address,
        lines=tuple(built), charges=charges,
        totals=SalesOrderTotals(merchandise=merch, discount=disc, charges=freight, tax=tax,
                                total=total),
        conversion_rate=m.conversion_rate,
    )
    return dataclasses.replace(order, **overrides) if overrides else order


def retotal(order: SalesOrder) -> SalesOrder:
    """The order with totals recomputed from its lines and charges (after a test edits them)."""
    cur = order.currency
    zero = Money.zero(cur)
    merch = sum((ln.unit_price.times(ln.quantity) for ln in order.lines), zero)
    disc = sum((ln.discount for ln in order.lines), zero)
    charges = sum((c.amount for c in order.charges), zero)
    tax = sum((ln.tax for ln in order.lines), zero) + sum((c.tax for c in order.charges), zero)
    total = merch - disc + charges + (zero if order.prices_include_tax else tax)
    return dataclasses.replace(order, totals=SalesOrderTotals(
        merchandise=merch, discount=disc, charges=charges, tax=tax, total=total))


def with_line(order: SalesOrder, index: int = 0, **changes: Any) -> SalesOrder:
    lines = list(order.lines)
    lines[index] = dataclasses.replace(lines[index], **changes)
    return dataclasses.replace(order, lines=tuple(lines))


_ = Decimal
