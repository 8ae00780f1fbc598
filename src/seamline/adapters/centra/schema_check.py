"""Seamline's GraphQL operations held against the schema a Centra environment actually serves.

Centra's schema evolves in place and each token reads only what its permissions allow
(``Order.shippingAddress:read`` and the like), so an environment can refuse an operation that is
valid against the published schema. This module finds that before any order does:

- :func:`validate_operations` validates every packaged operation against a schema and names
  each field, argument or type the schema lacks, by operation;
- :func:`check_live` introspects a live Centra (``__schema``), validates against it, then runs
  the read operations once each with a one-item page to find the fields the token may not read;
- :func:`problems_from_messages` turns Centra's own error texts ("Cannot query field ...",
  "You need Order:read permission ...") into the same named problems, for the client's
  classification of a refused request.

Which flow an operation serves is :data:`FLOW_OPERATIONS`: a problem parks that flow, not all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    GraphQLSchema,
    build_client_schema,
    get_introspection_query,
    parse,
    validate,
)

from seamline.adapters.centra import queries

__all__ = [
    "ACTIVE_FLOWS",
    "FLOW_OPERATIONS",
    "INTROSPECTION_QUERY",
    "SchemaProblem",
    "check_live",
    "problems_from_messages",
    "schema_from_introspection",
    "validate_operations",
]

#: The operations each flow sends (a flow whose operation fails is parked; the others run).
FLOW_OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "orders": ("orders_updated", "orders_page", "orders_by_number", "order_lines",
               "order_state", "set_id_conversions", "id_conversions", "confirm_order",
               "set_orders_lock", "events", "confirm_events", "set_event_listeners",
               "rate_limits", "markets_and_currencies"),
    "shipments": ("order_shipments", "shipment_by_id", "create_shipment", "complete_shipment",
                  "capture_order", "cancel_order_lines"),
    "stock": ("stock_levels", "set_stock"),
}

INTROSPECTION_QUERY = get_introspection_query(descriptions=False)

#: Read operations run once by :func:`check_live` to find fields the token may not read, with
#: variables that ask for at most one item (and usually none).
PROBES: Mapping[str, Mapping[str, Any]] = {
    "orders_page": {"where": {}, "limit": 1, "page": 1},
    "order_lines": {"number": 0, "limit": 1, "page": 1},
    "id_conversions": {"internalIds": [0], "limit": 1, "page": 1},
    "order_shipments": {"number": 0, "limit": 1, "page": 1},
    "stock_levels": {"warehouse": 0, "skus": ["-"], "limit": 1},
    "rate_limits": {},
    "markets_and_currencies": {},
}

_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"Cannot query field [\"'](?P<f>\w+)[\"'] on type [\"'](?P<t>\w+)[\"']"),
     "missing", "{t}.{f}"),
    (re.compile(r"Unknown argument [\"'](?P<a>\w+)[\"'] on field [\"'](?P<f>[\w.]+)[\"']"),
     "missing", "{f}({a}:)"),
    (re.compile(r"Field [\"'](?P<f>\w+)[\"'] is not defined by type [\"'](?P<t>\w+)[\"']"),
     "missing", "{t}.{f}"),
    (re.compile(r"Unknown type [\"'](?P<t>\w+)[\"']"), "missing", "type {t}"),
    (re.compile(r"Value [\"'](?P<v>\w+)[\"'] does not exist in [\"'](?P<t>\w+)[\"'] enum"),
     "missing", "{t}.{v}"),
    (re.compile(r"You need (?P<p>[\w.:]+) permission"), "permission", "{p}"),
)


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One thing a Centra environment refuses in one of Seamline's operations."""

    operation: str
    #: ``Type.field``, ``Type.field(arg:)``, ``type Name`` or, for a permission, its name.
    field: str
    #: ``missing`` (the schema lacks it) or ``permission`` (the token may not read it).
    kind: str
    #: Centra's (or the validator's) own words.
    message: str

    @property
    def flows(self) -> tuple[str, ...]:
        return tuple(f for f, ops in FLOW_OPERATIONS.items() if self.operation in ops)

    def line(self) -> str:
        """One line for a person: what, where, and what to do."""
        flows = ", ".join(self.flows) or "no flow yet"
        if self.kind == "permission":
            return (f"centra operation {self.operation} ({flows}): the token lacks "
                    f"{self.field}; add that permission to the integration's API token")
        if self.kind == "missing":
            return (f"centra operation {self.operation} ({flows}): {self.field} is not in this "
                    "Centra environment's schema (schema mismatch); ask Centra support whether "
                    "the environment is on an older API version, and see docs/centra-fields.md")
        return f"centra operation {self.operation} ({flows}): {self.message}"


def problems_from_messages(operation: str, messages: Iterable[str]) -> list[SchemaProblem]:
    """Centra's error texts → named problems (one per message; unparsed ones kept whole)."""
    out: list[SchemaProblem] = []
    for message in messages:
        for pattern, kind, fmt in _PATTERNS:
            found = pattern.search(message)
            if found:
                out.append(SchemaProblem(operation, fmt.format(**found.groupdict()), kind,
                                         message))
                break
        else:
            out.append(SchemaProblem(operation, "", "other", message))
    return out


def validate_operations(schema: GraphQLSchema,
                        names: Sequence[str] | None = None) -> list[SchemaProblem]:
    """Every packaged operation (or ``names``) validated against ``schema``."""
    out: list[SchemaProblem] = []
    for name in names or queries.operation_names():
        errors = validate(schema, parse(queries.load(name)))
        out.extend(problems_from_messages(name, (e.message for e in errors)))
    return out


def schema_from_introspection(data: Mapping[str, Any]) -> GraphQLSchema:
    """A client-side schema from an introspection answer's ``data``."""
    return build_client_schema(dict(data))  # type: ignore[arg-type]


class LiveCentra(Protocol):
    def introspect(self) -> Mapping[str, Any]: ...

    def probe(self, operation: str, variables: Mapping[str, Any]) -> list[str]: ...


#: The flows Seamline runs today: only their operations are checked (a token needs no
#: permission for a flow that does not run yet).
ACTIVE_FLOWS: tuple[str, ...] = ("orders", "shipments", "stock")


def check_live(client: LiveCentra,
               flows: Sequence[str] = ACTIVE_FLOWS) -> list[SchemaProblem]:
    """Introspect, validate the operations of ``flows``, then probe their reads once."""
    names = sorted({op for f in flows for op in FLOW_OPERATIONS.get(f, ())})
    schema = schema_from_introspection(client.introspect())
    problems = validate_operations(schema, names)
    refused = {p.operation for p in problems}
    for name, variables in PROBES.items():
        if name in refused or name not in names:
            continue
        problems.extend(problems_from_messages(name, client.probe(name, variables)))
    return problems
