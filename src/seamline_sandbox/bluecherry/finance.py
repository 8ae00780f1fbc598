"""Feeds and finance endpoints: shipments and invoices by resume cursor, cash receipts (unique
reference, applications, unapplied cash, over-application refused) and credit memos."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from seamline_sandbox.bluecherry.state import ApiError, BlueCherryState, iso
from seamline_sandbox.bluecherry.validation import (
    DATE_RE,
    Detail,
    currency_digits,
    fmt_money,
    parse_money,
)
from seamline_sandbox.bluecherry.web import (
    SandboxRuntime,
    encode_cursor,
    int_cursor,
    json_body,
    page_size_of,
    paged,
)

__all__ = ["create_credit_memo", "create_receipt", "list_credit_memos", "list_invoices",
           "list_receipts", "list_shipments"]

_FEED_RE = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")


def _feed(request: Request, rows: list[dict[str, Any]], kind: str) -> JSONResponse:
    """A feed page: items after ``since``; ``next_cursor`` is always a resume point."""
    size = page_size_of(request)
    since = request.query_params.get("since") or request.query_params.get("cursor")
    if since is not None and since != "" and not _FEED_RE.match(since):
        raise ApiError(422, "BAD_CURSOR", "since is not a cursor this feed issued")
    start = int_cursor(since, kind)
    chunk = rows[start:start + size]
    end = start + len(chunk)
    return JSONResponse({"items": chunk, "next_cursor": encode_cursor([kind, end]),
                         "has_more": end < len(rows)})


async def list_shipments(request: Request, rt: SandboxRuntime, who: str) -> Response:
    return _feed(request, rt.state.shipments, "shipments")


async def list_invoices(request: Request, rt: SandboxRuntime, who: str) -> Response:
    return _feed(request, rt.state.invoices, "invoices")


def _fail(details: list[Detail]) -> ApiError:
    codes = {d["code"] for d in details}
    code = details[0]["code"] if len(codes) == 1 else "VALIDATION_FAILED"
    return ApiError(422, code, f"{len(details)} problem(s)", details)


def _common(body: Any, allowed: frozenset[str], state: BlueCherryState,
            details: list[Detail]) -> tuple[str | None, str | None, int | None]:
    """Checks shared by receipts and memos: fields, customer, currency. Returns (customer,
    currency, digits)."""
    for key in body:
        if key not in allowed:
            details.append({"field": str(key)[:60], "code": "MALFORMED",
                            "message": "unknown field"})
    customer = body.get("customer")
    cust = None
    if not isinstance(customer, str) or not customer:
        details.append({"field": "customer", "code": "UNKNOWN_CUSTOMER",
                        "message": "customer is required"})
        customer = None
    else:
        cust = state.master.customers.get(customer)
        if cust is None:
            details.append({"field": "customer", "code": "UNKNOWN_CUSTOMER",
                            "message": f"no customer {customer[:40]!r}"})
    currency = body.get("currency")
    digits = None
    if not isinstance(currency, str) or currency_digits(currency) is None:
        details.append({"field": "currency", "code": "UNKNOWN_CURRENCY",
                        "message": "currency must be an ISO 4217 code"})
        currency = None
    else:
        digits = currency_digits(currency)
        if cust is not None and cust[1] != currency:
            details.append({"field": "currency", "code": "UNKNOWN_CURRENCY",
                            "message": f"customer {customer} trades in {cust[1]}"})
    return customer, currency, digits


def _reference(body: Any, details: list[Detail]) -> str | None:
    ref = body.get("reference")
    if not isinstance(ref, str) or not ref or len(ref) > 200:
        details.append({"field": "reference", "code": "MALFORMED",
                        "message": "reference must be a non-empty string"})
        return None
    return ref


RECEIPT_FIELDS = frozenset({"reference", "customer", "receipt_date", "currency", "amount",
                            "method", "applications"})


async def create_receipt(request: Request, rt: SandboxRuntime, who: str) -> Response:
    body = await json_body(request, rt)
    st = rt.state
    if not isinstance(body, dict):
        raise _fail([{"field": "", "code": "MALFORMED", "message": "not a JSON object"}])
    details: list[Detail] = []
    ref = _reference(body, details)
    if ref is not None and ref in st.receipts:
        raise ApiError(409, "DUPLICATE_REFERENCE", f"receipt {ref} exists",
                       extra={"receipt": st.receipts[ref]})
    customer, currency, digits = _common(body, RECEIPT_FIELDS, st, details)
    rdate = body.get("receipt_date")
    if not isinstance(rdate, str) or not DATE_RE.match(rdate):
        details.append({"field": "receipt_date", "code": "MALFORMED",
                        "message": "receipt_date must be YYYY-MM-DD"})
    method = body.get("method", "CARD")
    if not isinstance(method, str) or len(method) > 40:
        details.append({"field": "method", "code": "MALFORMED", "message": "must be a string"})
    amount = parse_money(body.get("amount"), digits, "amount", details)
    apps_raw = body.get("applications", [])
    if apps_raw is None:
        apps_raw = []
    apps: list[tuple[str, str, Decimal, int]] = []
    if not isinstance(apps_raw, list) or len(apps_raw) > 1000:
        details.append({"field": "applications", "code": "MALFORMED", "message": "not a list"})
        apps_raw = []
    for i, raw in enumerate(apps_raw):
        fld = f"applications[{i}]"
        if not isinstance(raw, dict):
            details.append({"field": fld, "code": "MALFORMED", "message": "not an object"})
            continue
        po, inv_no = raw.get("customer_po", ""), raw.get("invoice_no", "")
        if not isinstance(po, str) or not isinstance(inv_no, str):
            details.append({"field": fld, "code": "MALFORMED",
                            "message": "customer_po and invoice_no are strings"})
            continue
        value = parse_money(raw.get("amount"), digits, f"{fld}.amount", details)
        if value is not None:
            apps.append((po, inv_no, value, i))
    if details:
        raise _fail(details)
    assert ref
    assert customer
    assert currency
    assert digits is not None
    assert amount is not None
    # resolve applications to invoices
    planned: dict[str, Decimal] = {}
    resolved: list[dict[str, str]] = []
    for po, inv_no, value, i in apps:
        fld = f"applications[{i}]"
        targets: list[dict[str, Any]]
        if inv_no:
            inv = st.invoice_by_no.get(inv_no)
            if inv is None or inv["customer"] != customer or (po and inv["customer_po"] != po):
                details.append({"field": fld, "code": "UNKNOWN_INVOICE",
                                "message": f"no invoice {inv_no[:40]!r} for {customer}"})
                continue
            targets = [inv]
        else:
            order = st.by_po.get((customer, po))
            if order is None:
                details.append({"field": fld, "code": "UNKNOWN_INVOICE",
                                "message": f"no order {po[:40]!r} for {customer}"})
                continue
            targets = [i_ for i_ in st.invoices if i_["order_no"] == order.order_no]
        left = value
        for inv in targets:
            no = inv["invoice_no"]
            room = st.invoice_totals[no] - st.applied.get(no, Decimal(0)) - planned.get(no, 0)
            take = min(room, left) if len(targets) > 1 else left
            if take <= 0:
                continue
            planned[no] = planned.get(no, Decimal(0)) + take
            resolved.append({"customer_po": inv["customer_po"], "invoice_no": no,
                             "amount": fmt_money(take, digits)})
            left -= take
            if left == 0:
                break
        if left > 0 or any(st.applied.get(no, Decimal(0)) + v > st.invoice_totals[no]
                           for no, v in planned.items()):
            details.append({"field": fld, "code": "OVERAPPLIED",
                            "message": "more would be applied than is invoiced"})
    applied_total = sum((v for _, _, v, _ in apps), Decimal(0))
    if applied_total > amount:
        details.append({"field": "applications", "code": "OVERAPPLIED",
                        "message": f"applications {applied_total} exceed the receipt {amount}"})
    if details:
        raise _fail(details)
    for no, v in planned.items():
        st.applied[no] = st.applied.get(no, Decimal(0)) + v
    now = st.now()
    _seq, receipt_no = st.next_no("CR")
    receipt = {
        "receipt_no": receipt_no, "reference": ref, "customer": customer,
        "receipt_date": body["receipt_date"], "currency": currency,
        "amount": fmt_money(amount, digits), "method": method, "applications": resolved,
        "unapplied": fmt_money(amount - applied_total, digits),
        "created_at": iso(now), "updated_at": iso(now), "updated_by": who,
    }
    st.receipts[ref] = receipt
    return JSONResponse(receipt, status_code=201)


def _day_param(request: Request) -> str | None:
    day = request.query_params.get("date")
    if day is not None and not DATE_RE.match(day):
        raise ApiError(422, "MALFORMED", "date must be YYYY-MM-DD",
                       [{"field": "date", "code": "MALFORMED", "message": "not a date"}])
    return day


async def list_receipts(request: Request, rt: SandboxRuntime, who: str) -> Response:
    day = _day_param(request)
    rows = [r for r in rt.state.receipts.values() if day is None or r["receipt_date"] == day]
    return JSONResponse(paged(rows, request, "receipts"))


async def list_credit_memos(request: Request, rt: SandboxRuntime, who: str) -> Response:
    """``GET /credit-memos?date=``: not in the contract, assumed as the analogue of the receipts
    listing. A memo carries no date of its own in the contract, so ``date`` is the day
    BlueCherry created it (the date part of ``created_at``)."""
    day = _day_param(request)
    rows = [m for m in rt.state.credit_memos.values()
            if day is None or str(m["created_at"])[:10] == day]
    return JSONResponse(paged(rows, request, "credit_memos"))


MEMO_FIELDS = frozenset({"reference", "customer", "customer_po", "invoice_no", "currency",
                         "lines", "charges", "total", "reason"})


async def create_credit_memo(request: Request, rt: SandboxRuntime, who: str) -> Response:
    body = await json_body(request, rt)
    st = rt.state
    if not isinstance(body, dict):
        raise _fail([{"field": "", "code": "MALFORMED", "message": "not a JSON object"}])
    details: list[Detail] = []
    ref = _reference(body, details)
    if ref is not None and ref in st.credit_memos:
        raise ApiError(409, "DUPLICATE_REFERENCE", f"credit memo {ref} exists",
                       extra={"credit_memo": st.credit_memos[ref]})
    customer, currency, digits = _common(body, MEMO_FIELDS, st, details)
    po = body.get("customer_po", "")
    inv_no = body.get("invoice_no", "")
    reason = body.get("reason", "")
    for name, v in (("customer_po", po), ("invoice_no", inv_no), ("reason", reason)):
        if v is not None and not isinstance(v, str):
            details.append({"field": name, "code": "MALFORMED", "message": "must be a string"})
    if isinstance(inv_no, str) and inv_no:
        inv = st.invoice_by_no.get(inv_no)
        if inv is None or (customer and inv["customer"] != customer):
            details.append({"field": "invoice_no", "code": "UNKNOWN_INVOICE",
                            "message": f"no invoice {inv_no[:40]!r}"})
    lines_raw = body.get("lines", [])
    lines_out: list[dict[str, Any]] = []
    amounts = Decimal(0)
    taxes = Decimal(0)
    if not isinstance(lines_raw, list) or len(lines_raw) > 1000:
        details.append({"field": "lines", "code": "MALFORMED", "message": "not a list"})
        lines_raw = []
    for i, raw in enumerate(lines_raw):
        fld = f"lines[{i}]"
        if not isinstance(raw, dict):
            details.append({"field": fld, "code": "MALFORMED", "message": "not an object"})
            continue
        sku, upc = raw.get("sku") or "", raw.get("upc") or ""
        if not isinstance(sku, str) or not isinstance(upc, str):
            details.append({"field": fld, "code": "MALFORMED", "message": "sku/upc are strings"})
            continue
        found = st.master.sku_by_upc.get(upc) if upc else (sku if sku in st.master.upc_by_sku
                                                           else None)
        if found is None or (sku and upc and found != sku):
            details.append({"field": fld, "code": "UNKNOWN_SKU", "message": "no such SKU"})
            continue
        qty = raw.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            details.append({"field": f"{fld}.quantity", "code": "BAD_QUANTITY",
                            "message": "quantity must be a positive integer"})
            continue
        amount = parse_money(raw.get("amount"), digits, f"{fld}.amount", details)
        tax = parse_money(raw.get("tax", "0" if not digits else "0." + "0" * digits), digits,
                          f"{fld}.tax", details)
        if amount is None or tax is None or digits is None:
            continue
        amounts += amount
        taxes += tax
        lines_out.append({"sku": found, "upc": st.master.upc_by_sku[found], "quantity": qty,
                          "amount": fmt_money(amount, digits), "tax": fmt_money(tax, digits)})
    charges = parse_money(body.get("charges", "0" if not digits else "0." + "0" * digits),
                          digits, "charges", details)
    total = parse_money(body.get("total"), digits, "total", details)
    if not details and charges is not None and total is not None \
            and total not in (amounts + charges, amounts + charges + taxes):
        details.append({"field": "total", "code": "TOTALS_MISMATCH",
                        "message": f"total {total}; lines and charges give {amounts + charges}"})
    if details:
        raise _fail(details)
    assert ref
    assert customer
    assert currency
    assert digits is not None
    assert charges is not None
    assert total is not None
    now = st.now()
    _seq, memo_no = st.next_no("CM")
    memo = {
        "memo_no": memo_no, "reference": ref, "customer": customer, "customer_po": po or "",
        "invoice_no": inv_no or "", "currency": currency, "lines": lines_out,
        "charges": fmt_money(charges, digits), "tax": fmt_money(taxes, digits),
        "total": fmt_money(total, digits), "reason": reason or "",
        "created_at": iso(now), "updated_at": iso(now), "updated_by": who,
    }
    st.credit_memos[ref] = memo
    return JSONResponse(memo, status_code=201)
