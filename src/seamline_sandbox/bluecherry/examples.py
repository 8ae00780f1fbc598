"""Valid sales-order bodies for the sandbox world (tests, benchmarks, contract suites, demos).

``sample_order(n)`` builds order number ``n`` deterministically: codes from the world's market
mapping, SKUs from the BlueCherry catalogue, amounts quantised to the currency with totals that
add up exactly as the contract defines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from seamline_sandbox import world as w
from seamline_sandbox.bluecherry.validation import currency_digits, fmt_money

__all__ = ["sample_order"]

_MARKETS = {m.id: m for m in w.MARKETS}


def sample_order(n: int, *, market: int = 1, seed: int = 1, lines: int = 2,
                 quantity: int = 1, prefix: str = "", discount_every: int = 3) -> dict[str, Any]:
    """A valid ``POST /sales-orders`` body: order ``n`` of ``market`` (1 SE … 5 US)."""
    mk = _MARKETS[market]
    codes = w.MARKET_CODES[market]
    world = w.build_world(seed)
    items = world.bluecherry_items()
    digits = currency_digits(mk.currency)
    assert digits is not None
    q = Decimal(1).scaleb(-digits)

    def m(v: Decimal) -> str:
        return fmt_money(v, digits)

    body_lines = []
    merch = disc_total = tax_total = Decimal(0)
    rate = mk.tax_rate
    for i in range(lines):
        item = items[(n * 7 + i * 13) % len(items)]
        unit = world.price(item, mk)
        gross = unit * quantity
        discount = (gross * Decimal("0.10")).quantize(q, ROUND_HALF_UP) \
            if discount_every and n % discount_every == 0 else Decimal(0)
        net = gross - discount
        if mk.prices_include_tax:
            tax = (net * rate / (100 + rate)).quantize(q, ROUND_HALF_UP)
        else:
            tax = (net * rate / 100).quantize(q, ROUND_HALF_UP)
        merch += gross
        disc_total += discount
        tax_total += tax
        body_lines.append({"line_no": i + 1, "upc": item.upc, "sku": item.sku,
                           "quantity": quantity, "unit_price": m(unit), "discount": m(discount),
                           "tax": m(tax), "tax_rate": f"{rate:.2f}"})
    freight = mk.shipping_price.quantize(q)
    freight_tax = ((freight * rate / (100 + rate)) if mk.prices_include_tax
                   else (freight * rate / 100)).quantize(q, ROUND_HALF_UP)
    tax_total += freight_tax
    total = merch - disc_total + freight + (Decimal(0) if mk.prices_include_tax else tax_total)
    po = f"{prefix}{100000 + n}"
    address = {"name": f"Customer {n}", "line1": f"Street {n}", "line2": "", "city": "City",
               "region": "", "postal_code": "12345", "country": mk.country,
               "email": f"c{n}@example.com", "phone": ""}
    return {
        "customer_po": po,
        "external_reference": f"centra:{mk.code.lower()}:{po}",
        "division": codes["division"], "warehouse": codes["warehouse"],
        "customer": codes["customer"], "store": codes["store"], "order_type": "ECOM",
        "season": "FW26", "order_date": "2026-11-28", "start_date": "2026-11-28",
        "cancel_date": "2026-12-12", "currency": mk.currency,
        "ship_via": w.SHIPPING_CODES[mk.shipping_option], "terms": "PREPAID",
        "bill_to": address, "ship_to": dict(address),
        "lines": body_lines,
        "charges": [{"type": "FREIGHT", "amount": m(freight), "tax": m(freight_tax),
                     "tax_rate": f"{rate:.2f}"}],
        "totals": {"merchandise": m(merch), "discount": m(disc_total), "charges": m(freight),
                   "tax": m(tax_total), "total": m(total)},
        "prices_include_tax": mk.prices_include_tax,
    }
