"""Drift rules: what is compared, what is not, who owns it, and what "correct" can do."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from seamline.adapters.bluecherry.translate import sales_order_from_wire
from seamline.domain.drift import (
    correction_plan,
    drift_rows,
    editor_kind,
    fingerprint,
    is_accepted,
    owner_for,
)
from seamline.domain.erp import ErpSalesOrder

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ADDRESS = {"name": "Alva Test", "line1": "Götgatan 1", "line2": "", "city": "Stockholm",
           "region": "", "postal_code": "11621", "country": "SE", "email": "a@example.com",
           "phone": ""}


def frozen() -> dict[str, Any]:
    """What Seamline posted (``SalesOrder.to_dict``): 2 x 499.00 less 99.80, freight 49.00."""
    return {
        "customer_po": "100234", "external_reference": "centra:SE:100234", "division": "D01",
        "warehouse": "W01", "customer": "WEBSE", "store": "SE", "order_type": "ECOM",
        "season": "FW26", "terms": "PREPAID", "ship_via": "PNORD", "order_date": "2026-11-28",
        "start_date": "2026-11-28", "cancel_date": "2026-12-12", "currency": "SEK",
        "prices_include_tax": True, "bill_to": dict(ADDRESS), "ship_to": dict(ADDRESS),
        "lines": [
            {"line_no": 1, "upc": "012345678905", "sku": "ST1001-BLK-M", "quantity": 2,
             "unit_price": "499.00", "discount": "99.80", "tax": "179.64",
             "tax_rate": "25.00", "centra_line_id": 11},
            {"line_no": 2, "upc": "012345678912", "sku": "ST1001-BLK-L", "quantity": 1,
             "unit_price": "299.00", "discount": "0.00", "tax": "59.80",
             "tax_rate": "25.00", "centra_line_id": 12},
        ],
        "charges": [{"type": "FREIGHT", "amount": "49.00", "tax": "9.80", "tax_rate": "25.00"}],
        "totals": {"merchandise": "1297.00", "discount": "99.80", "charges": "49.00",
                   "tax": "249.24", "total": "1246.20"},
        "conversion_rate": "1",
    }


def held(sent: dict[str, Any] | None = None, *, by: str = "api:seamline",
         status: str = "OPEN", at: datetime = T0, **changes: Any) -> ErpSalesOrder:
    """The order as BlueCherry returns it (wire shape), with ``changes`` applied."""
    body = copy.deepcopy(sent or frozen())
    body.pop("conversion_rate")
    for ln in body["lines"]:
        ln.pop("centra_line_id", None)
        ln.setdefault("ordered_quantity", ln["quantity"])
        for f in ("cancelled_quantity", "picked_quantity", "shipped_quantity"):
            ln.setdefault(f, 0)
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = value
    for ln in body["lines"]:
        ln["ordered_quantity"] = ln["quantity"]
    body.update(order_no="SO-000123", status=status, created_at=T0.isoformat(),
                updated_at=at.isoformat(), updated_by=by)
    return sales_order_from_wire(body)


def fields(rows: Any) -> list[str]:
    return [r.field for r in rows]


def test_the_order_as_posted_has_no_drift() -> None:
    assert drift_rows(frozen(), held()) == []


def test_picks_shipments_and_short_ship_cancels_by_the_warehouse_are_not_drift() -> None:
    order = held(by="system:warehouse", status="SHIPPED", lines__0__shipped_quantity=1,
                 lines__0__cancelled_quantity=1, lines__1__picked_quantity=1)
    assert drift_rows(frozen(), order) == []


def test_seamlines_own_cancel_is_not_drift() -> None:
    order = held(by="api:seamline", status="CANCELLED", lines__0__cancelled_quantity=2,
                 lines__1__cancelled_quantity=1)
    assert drift_rows(frozen(), order) == []


def test_a_quantity_raised_by_hand_is_one_row_per_field_with_both_sides() -> None:
    order = held(by="user:anna", lines__0__quantity=3, lines__0__discount="149.70",
                 lines__0__tax="269.46", totals__merchandise="1796.00",
                 totals__discount="149.70", totals__tax="339.06", totals__total="1695.30")
    rows = drift_rows(frozen(), order)
    assert fields(rows) == ["line 1 quantity", "line 1 discount", "line 1 tax",
                            "totals.merchandise", "totals.discount", "totals.tax",
                            "totals.total"]
    first = rows[0]
    assert (first.centra, first.bluecherry, first.line_no) == ("2", "3", 1)
    assert owner_for(rows) == "ecommerce"


def test_only_amounts_differing_is_finances() -> None:
    rows = drift_rows(frozen(), held(by="user:anna", lines__1__unit_price="249.00",
                                     totals__merchandise="1247.00", totals__total="1196.20"))
    assert fields(rows) == ["line 2 unit_price", "totals.merchandise", "totals.total"]
    assert owner_for(rows) == "finance"


def test_codes_and_addresses_are_ecommerces() -> None:
    ship_to = dict(ADDRESS, city="Göteborg")
    rows = drift_rows(frozen(), held(by="user:bo", warehouse="W02", ship_to=ship_to,
                                     ship_via="UPSG"))
    assert fields(rows) == ["warehouse", "ship_via", "ship_to.city"]
    assert [(r.centra, r.bluecherry) for r in rows][-1] == ("Stockholm", "Göteborg")
    assert owner_for(rows) == "ecommerce"


def test_a_charge_and_a_hold_are_compared() -> None:
    rows = drift_rows(frozen(), held(by="user:bo", status="HELD",
                                     charges=[{"type": "FREIGHT", "amount": "0.00",
                                               "tax": "0.00", "tax_rate": "25.00"}]))
    assert fields(rows) == ["charge 1 amount", "charge 1 tax", "status"]


def test_a_line_added_by_hand_and_a_line_removed_are_named() -> None:
    sent = frozen()
    body = copy.deepcopy(sent)
    extra = dict(body["lines"][1], line_no=3, sku="ST1001-RED-S", upc="012345678929")
    body["lines"] = [body["lines"][0], extra]
    rows = drift_rows(sent, held(body, by="user:anna"))
    assert ("line 2", "1 x ST1001-BLK-L", "missing") in [
        (r.field, r.centra, r.bluecherry) for r in rows]
    assert any(r.field == "line 3" and r.centra == "missing" for r in rows)


def test_a_person_who_changed_nothing_compared_is_still_reported() -> None:
    order = held(by="user:anna", lines__1__cancelled_quantity=1)
    rows = drift_rows(frozen(), order)
    assert fields(rows) == ["edited by"]
    assert "user:anna" in rows[0].bluecherry
    assert "line 2: 1 cancelled" in rows[0].bluecherry
    assert owner_for(rows) == "ecommerce"


def test_who_changed_it() -> None:
    assert [editor_kind(x) for x in ("user:a", "system:warehouse", "api:seamline", "")] == [
        "person", "process", "integration", "unknown"]


def test_an_accepted_version_stays_accepted_through_the_warehouse_but_not_a_new_edit() -> None:
    edited = held(by="user:anna", lines__1__unit_price="249.00")
    accepted = {"fingerprint": fingerprint(edited), "updated_at": edited.updated_at.isoformat()}
    assert is_accepted(accepted, edited)
    shipped = held(by="system:warehouse", lines__1__unit_price="249.00",
                   lines__1__shipped_quantity=1, at=datetime(2026, 11, 29, tzinfo=UTC))
    assert is_accepted(accepted, shipped)
    touched_again = held(by="user:anna", lines__1__unit_price="249.00",
                         at=datetime(2026, 11, 30, tzinfo=UTC))
    assert not is_accepted(accepted, touched_again)
    changed = held(by="system:warehouse", lines__1__unit_price="199.00")
    assert not is_accepted(accepted, changed)


def test_correct_cancels_added_open_units_and_leaves_the_rest_for_a_person() -> None:
    sent = frozen()
    order = held(by="user:anna", lines__0__quantity=3, lines__0__discount="149.70",
                 lines__0__tax="269.46", totals__merchandise="1796.00",
                 totals__discount="149.70", totals__tax="339.06", totals__total="1695.30")
    plan = correction_plan(sent, order, drift_rows(sent, order))
    assert plan.cancels == ((1, 1),)
    assert plan.left == ()

    priced = held(by="user:anna", lines__0__quantity=3, lines__1__unit_price="249.00",
                  totals__total="1000.00")
    plan = correction_plan(sent, priced, drift_rows(sent, priced))
    assert plan.cancels == ((1, 1),)
    assert fields(plan.left) == ["line 2 unit_price", "totals.total"]


def test_correct_cannot_cancel_added_units_already_picked() -> None:
    sent = frozen()
    order = held(by="user:anna", lines__0__quantity=3, lines__0__picked_quantity=3)
    plan = correction_plan(sent, order, drift_rows(sent, order))
    assert plan.cancels == ()
    assert "line 1 quantity" in fields(plan.left)
