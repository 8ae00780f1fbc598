"""Hand-built Centra GraphQL answers for the adapter's unit tests."""

from __future__ import annotations

from typing import Any


def money(value: Any, code: str = "SEK") -> dict[str, Any]:
    return {"value": value, "currency": {"code": code}, "conversionRate": 1}


def order_node(number: int = 1001, *, code: str = "SEK", tax_added: Any = 0,
               tax_included: Any = 200, on_hold: bool = False) -> dict[str, Any]:
    """A VAT-market order (or a sales-tax one with ``tax_added``) as ``...erpOrder`` returns."""
    ex = tax_added != 0
    m = lambda v: money(v, code)  # noqa: E731
    return {
        "__typename": "DirectToConsumerOrder", "id": f"hash{number}", "number": number,
        "status": "PENDING", "isOnHold": on_hold, "isLocked": False,
        "isWaitingForPayment": False, "externalId": None,
        "createdAt": "2026-03-01T10:00:00+01:00", "updatedAt": "2026-03-01T10:05:00+01:00",
        "orderDate": "2026-03-01T10:00:00+01:00",
        "store": {"id": 1, "type": "DIRECT_TO_CONSUMER"}, "market": {"id": 1, "name": "Sweden"},
        "currency": {"code": code},
        "shippingPriceGroup": {"shippingOption": {"uri": "se-standard"}},
        "shippingAddress": {"firstName": "Åsa", "lastName": "Öberg", "country": {"code": "SE"},
                            "email": "asa@example.com"},
        "billingAddress": {"firstName": "Åsa", "lastName": "Öberg", "country": {"code": "SE"},
                           "email": "asa@example.com"},
        "customer": {"email": "asa@example.com"},
        "grandTotal": m(1049 if not ex else 1088.75),
        "totals": {
            "lineValues": m(1000), "shipping": m(49), "shippingTaxAdded": m(0),
            "shippingTaxIncluded": m(9.8), "shippingTaxRules": [{"taxPercent": 25}],
            "discounts": m(0), "taxAdded": m(tax_added),
            "taxIncluded": m(0 if ex else tax_included),
            "taxBreakdown": [{"taxPercent": 25, "value": m(tax_included)}],
            "grandTotal": m(1049),
        },
        "lines": [{
            "id": 1, "quantity": 2, "cancelledQuantity": 0, "productName": "Åre Knit",
            "size": "M", "taxPercent": 25, "productSize": {"SKU": "S1-BLK-M", "EAN": "0123"},
            "unitOriginalPriceInc": m(600), "unitOriginalPriceEx": m(480),
            "unitPriceInc": m(500), "unitPriceEx": m(400),
            "lineValueInc": m(1000), "lineValueEx": m(800),
        }],
        "discountsApplied": [],
        "paymentHistory": [],
    }
