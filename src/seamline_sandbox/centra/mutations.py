"""Mutation resolvers: problems are ``userErrors`` at HTTP 200, as Centra answers them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from ariadne import MutationType
from graphql import GraphQLResolveInfo as _Info

from seamline_sandbox.centra.state import CentraState, SandboxError
from seamline_sandbox.world import CENTRA_WAREHOUSES, CatalogueItem

Info: TypeAlias = _Info  # graphql-core 3.2: not generic

__all__ = ["bind_mutations"]

Need = Callable[[Info, str], bool]
Payload = Callable[..., dict[str, Any]]


def _state(info: Info) -> CentraState:
    st: CentraState = info.context["state"]
    return st


def _integration(info: Info) -> str:
    integration: str = info.context["token"].integration
    return integration


def _warehouse(ref: dict[str, Any] | None, path: str) -> int:
    ref = ref or {}
    if ref.get("id") is not None and int(ref["id"]) in CENTRA_WAREHOUSES:
        return int(ref["id"])
    for wid, (name, _bc) in CENTRA_WAREHOUSES.items():
        if ref.get("name") == name:
            return wid
    raise SandboxError(f"Warehouse not found: {ref}.", ["input", path])


def bind_mutations(m: MutationType, need: Need, payload: Payload,
                   mv: Callable[[Any, Any], Any]) -> None:
    def guarded(perm: str, fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def resolver(_: Any, info: Info, **kw: Any) -> dict[str, Any]:
            need(info, perm)
            st = _state(info)
            with st.lock:
                try:
                    return fn(st, info, **kw)
                except SandboxError as exc:
                    return payload([exc])
        return resolver

    def confirm(st: CentraState, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        o = st.find_order(input.get("order"), _integration(info))
        st.confirm(o)
        return payload(order=o)

    def lock(st: CentraState, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        orders = [st.find_order(ref, _integration(info)) for ref in input["orders"]]
        for o in orders:
            st.set_lock(o, bool(input["isLocked"]))
        return payload(orders=orders)

    def update(st: CentraState, info: Info, order: dict[str, Any],
               input: dict[str, Any]) -> dict[str, Any]:
        o = st.find_order(order, _integration(info))
        if input.get("isOnHold") is not None:
            st.set_hold(o, bool(input["isOnHold"]))
        if input.get("cancelLines"):
            st.cancel_lines(o, [(c["line"]["id"], c["quantity"],
                                 c.get("stockAction") or "RELEASE_BACK_TO_WAREHOUSE")
                                for c in input["cancelLines"]])
        return payload(order=o)

    def cancel(st: CentraState, _i: Any, id: str,
               input: dict[str, Any] | None = None) -> dict[str, Any]:
        o = st.find_order({"id": id})
        remove = bool(((input or {}).get("stockAction") or {}).get("removeItemsFromStock"))
        warnings = st.cancel_order(o, remove_from_stock=remove)
        return payload(warnings=warnings, order=o)

    def create_shipment(st: CentraState, info: Info,
                        input: dict[str, Any]) -> dict[str, Any]:
        o = st.find_order(input.get("order"), _integration(info))
        lines = None if input.get("lines") is None else [
            (ln["orderLine"]["id"], ln["quantity"]) for ln in input["lines"]]
        s = st.create_shipment(
            o, lines, good_to_go=input.get("isGoodToGo", True) is not False,
            paid=bool(input.get("isPaid")), capture=bool(input.get("capture")),
            info=input.get("shipmentInfo"), external_id=input.get("externalId"),
            message=input.get("additionalMessage"))
        return payload(shipment=s)

    def _shipment(st: CentraState, sid: int) -> Any:
        s = st.shipments.get(sid)
        if s is None:
            raise SandboxError(f"Shipment {sid} not found.", ["id"])
        return s

    def update_shipment(st: CentraState, _i: Any, id: int,
                        input: dict[str, Any]) -> dict[str, Any]:
        s = _shipment(st, id)
        st.update_shipment(s, input)
        return payload(shipment=s)

    def complete_shipment(st: CentraState, _i: Any, id: int,
                          input: dict[str, Any] | None = None) -> dict[str, Any]:
        s = _shipment(st, id)
        data = input or {}
        st.complete_shipment(s, send_email=bool(data.get("sendEmail")),
                             info=data.get("shipmentInfo"), shipped_at=data.get("shippedAt"))
        return payload(shipment=s)

    def _entry(st: CentraState, order_number: int, p: Any) -> dict[str, Any]:
        o = st.orders[order_number]
        return {"id": p.id, "createdAt": p.created_at, "status": p.status,
                "entryType": p.entry_type, "externalReference": p.external_reference,
                "value": mv(o, p.value), "paymentMethod": o.payment_method,
                "paramsJSON": "{}"}

    def capture_order(st: CentraState, info: Info, order: dict[str, Any]) -> dict[str, Any]:
        o = st.find_order(order, _integration(info))
        return payload(order=o,
                       paymentHistoryEntry=_entry(st, o.number, st.capture_order(o)))

    def capture_shipment(st: CentraState, _i: Any, id: int) -> dict[str, Any]:
        s = _shipment(st, id)
        return payload(shipment=s, paymentHistoryEntry=_entry(st, s.order_number,
                                                              st.capture_shipment(s)))

    def _stock_entries(st: CentraState, data: dict[str, Any], qty_key: str,  # noqa: PLR0917
                       variant_key: str, size_qty_key: str,
                       errors: list[SandboxError]) -> list[tuple[CatalogueItem, int]]:
        out: list[tuple[CatalogueItem, int]] = []
        for i, ps in enumerate(data.get("productSizes") or []):
            try:
                item = st.find_size(ps["productSize"])
            except SandboxError as exc:
                errors.append(SandboxError(exc.message, ["input", "productSizes", str(i)]))
                continue
            if ps[qty_key] < 0:
                errors.append(SandboxError("Quantity must not be negative.",
                                           ["input", "productSizes", str(i), qty_key]))
                continue
            out.append((item, ps[qty_key]))
        for i, pv in enumerate(data.get("productVariants") or []):
            vid = pv["productVariant"]["id"]
            items = [it for it in st.world.catalogue if it.variant_id == vid]
            for j, lvl in enumerate(pv.get(variant_key) or []):
                size = lvl["size"]
                match = [it for it in items if size.get("id") == it.size_id
                         or size.get("name") == it.size]
                path = ["input", "productVariants", str(i), variant_key, str(j)]
                if not match:
                    errors.append(SandboxError(f"Size {size} not found on variant {vid}.", path))
                elif lvl[size_qty_key] < 0:
                    errors.append(SandboxError("Quantity must not be negative.", path))
                else:
                    out.append((match[0], lvl[size_qty_key]))
        return out

    def set_stock(st: CentraState, _i: Any, input: dict[str, Any]) -> dict[str, Any]:
        wh = _warehouse(input.get("warehouse"), "warehouse")
        errors: list[SandboxError] = []
        entries = _stock_entries(st, input, "quantity", "sizeStockLevels", "quantity", errors)
        if errors:
            return payload(errors, stockChanges=[])
        sc, found = st.set_stock(
            wh, entries, free_to_allocate=input["stockQuantityType"] == "FREE_TO_ALLOCATE",
            description=input["description"])
        sizes = len(input.get("productSizes") or [])
        warnings: list[str | tuple[str, list[str]]] = [
            (message, ["input", "productSizes", str(i)]) if i < sizes else message
            for i, message in found]
        return payload(warnings=warnings, stockChanges=[st.stock_changes[sc - 1]])

    def change_stock(st: CentraState, _i: Any,
                     input: dict[str, Any]) -> dict[str, Any]:
        into = None if input.get("intoWarehouse") is None else \
            _warehouse(input["intoWarehouse"], "intoWarehouse")
        out = None if input.get("outFromWarehouse") is None else \
            _warehouse(input["outFromWarehouse"], "outFromWarehouse")
        if into is None and out is None:
            raise SandboxError("Give intoWarehouse, outFromWarehouse or both.", ["input"])
        errors: list[SandboxError] = []
        entries = _stock_entries(st, input, "quantity", "sizeChanges", "deliveredQuantity",
                                 errors)
        if errors:
            return payload(errors, stockChange=None)
        sc = st.change_stock(into, out, entries, input["description"])
        return payload(stockChange=st.stock_changes[sc - 1])

    def set_listeners(st: CentraState, info: Info,
                      input: list[dict[str, Any]]) -> dict[str, Any]:
        integ = info.context["token"].integration
        ls = st.listeners.setdefault(integ, {})
        for item in input:
            t = item["objectType"]
            types = item.get("changeTypes")
            if types is None or ls.get(t, frozenset()) is None:
                ls[t] = None
            else:
                ls[t] = frozenset(ls.get(t) or frozenset()) | frozenset(types)
        return payload(eventListeners=_listeners(st, integ))

    def unset_listeners(st: CentraState, info: Info,
                        input: list[dict[str, Any]]) -> dict[str, Any]:
        integ = info.context["token"].integration
        ls = st.listeners.setdefault(integ, {})
        for item in input:
            ls.pop(item["objectType"], None)
            st.events = [e for e in st.events if not (
                e.integration == integ and e.object_type == item["objectType"])]
        return payload(eventListeners=_listeners(st, integ))

    def _listeners(st: CentraState, integ: str) -> list[dict[str, Any]]:
        every = ["CREATED", "UPDATED", "DELETED", "COMPLETED", "DEPENDENT_DATA_CHANGED"]
        return [{"objectType": t, "changeTypes": sorted(c) if c is not None else every}
                for t, c in st.listeners.get(integ, {}).items()]

    def confirm_events(st: CentraState, info: Info,
                       input: dict[str, Any]) -> dict[str, Any]:
        integ = info.context["token"].integration
        ids = set(input["eventsIds"])
        st.events = [e for e in st.events if not (e.integration == integ and e.id in ids)]
        return payload()

    def set_ids(st: CentraState, info: Info,
                input: list[dict[str, Any]]) -> dict[str, Any]:
        integ = _integration(info)
        entries: list[Any] = []
        errors: list[SandboxError] = []
        for i, c in enumerate(input):
            try:
                entries.append(st.set_id_conversion(integ, c["objectType"], c["internalId"],
                                                    c["externalId"]))
            except SandboxError as exc:
                errors.append(SandboxError(exc.message, ["input", str(i), *exc.path]))
        return payload(errors, entries=entries)

    def unset_ids(st: CentraState, info: Info,
                  input: list[dict[str, Any]]) -> dict[str, Any]:
        integ = _integration(info)
        errors: list[SandboxError] = []
        for i, c in enumerate(input):
            try:
                st.unset_id_conversion(st.find_id_conversion(integ, c["objectType"],
                                                             c["idConversion"]))
            except SandboxError as exc:
                errors.append(SandboxError(exc.message, ["input", str(i), *exc.path]))
        return payload(errors)

    for name, perm, fn in (
        ("confirmOrder", "Order:write", confirm),
        ("setOrdersLock", "Order.isLocked:write", lock),
        ("updateDirectToConsumerOrder", "Order:write", update),
        ("cancelDirectToConsumerOrder", "Order:write", cancel),
        ("createShipment", "Shipment:write", create_shipment),
        ("updateShipment", "Shipment:write", update_shipment),
        ("completeShipment", "Shipment:write", complete_shipment),
        ("captureOrder", "Payment.capture:write", capture_order),
        ("captureShipment", "Payment.capture:write", capture_shipment),
        ("setStock", "StockChange:write", set_stock),
        ("changeStock", "StockChange:write", change_stock),
        ("setEventListeners", "Event:write", set_listeners),
        ("unsetEventListeners", "Event:write", unset_listeners),
        ("confirmEvents", "Event:write", confirm_events),
        ("setIdConversions", "IdConversion:write", set_ids),
        ("unsetIdConversions", "IdConversion:write", unset_ids),
    ):
        m.set_field(name, guarded(perm, fn))
