"""One exception tree for Seamline, sorted by what the caller should do.

::

    SeamlineError
    ├── ConfigError                    fix the configuration, then retry      (integrator)
    ├── StoreError                     the database is unreachable or broken  (integrator)
    │   └── LeaseLost                  this worker no longer owns the job: stop, apply nothing
    ├── ExternalError                  a call to Centra or BlueCherry failed
    │   ├── RetriableError             try again later (after ``retry_after`` when given)
    │   │   ├── RateLimited            429 with Retry-After
    │   │   ├── TransientError         5xx, reset, timeout on a read
    │   │   └── AmbiguousWrite         a write may have been applied: read back before any retry
    │   └── PermanentError             retrying the same call cannot help
    │       ├── AuthFailed             401/403: credentials or permissions       (integrator)
    │       ├── Rejected               422 / GraphQL userErrors, with the codes
    │       ├── Conflict               409 whose existing record differs         (operations)
    │       └── NotFound               the record does not exist
    └── DataError                      the data cannot be processed as it is: park it
        ├── MappingMissing             no mapping for a market/store/option      (ecommerce)
        ├── UnknownSku                 a line's SKU/GTIN is not in the catalogue (ecommerce)
        ├── TotalMismatch              Centra's own amounts do not tie out       (finance)
        ├── ShipmentUnmatched          a shipment's order, line or units unknown (operations)
        └── InvalidRecord              malformed input (order, EDI file, payload)

Every class carries ``exception_type`` and ``owner``: when a job fails permanently (or runs out
of retries) the queue turns the error into an exception record of that type, owned by that team.
Third-party errors (httpx, SQLAlchemy, psycopg) are translated into this tree at the adapter
boundary with ``raise ... from exc``; nothing above the adapters catches library errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "AlertNotDelivered",
    "AmbiguousWrite",
    "AuthFailed",
    "ConfigError",
    "Conflict",
    "DataError",
    "ExternalError",
    "InvalidRecord",
    "LeaseLost",
    "MappingMissing",
    "NotFound",
    "PermanentError",
    "RateLimited",
    "Rejected",
    "RetriableError",
    "SchemaMismatch",
    "SeamlineError",
    "ShipmentUnmatched",
    "StoreError",
    "TotalMismatch",
    "TransientError",
    "UnknownSku",
]

#: The teams that own exceptions.
OWNERS = ("ecommerce", "finance", "operations", "cx", "integrator")


class SeamlineError(Exception):
    """Seamline failed."""

    #: Exception type recorded when a job fails with this error.
    exception_type: ClassVar[str] = "INTERNAL_ERROR"
    #: Team that owns the resulting exception.
    owner: ClassVar[str] = "integrator"
    #: ``error`` or ``warning``.
    severity: ClassVar[str] = "error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or self.__class__.__name__).strip()
        self.details: dict[str, Any] = details
        super().__init__(self.message)

    def owner_for(self) -> str:
        """The owning team of this instance (subclasses may decide per instance)."""
        return self.owner

    def type_for(self) -> str:
        """The exception type of this instance."""
        return self.exception_type


class ConfigError(SeamlineError):
    """The configuration is invalid."""

    exception_type = "CONFIG_INVALID"

    def __init__(
        self, message: str | None = None, *, problems: Sequence[str] = (), **details: Any
    ) -> None:
        super().__init__(message, **details)
        #: Every problem found, each naming its key path and a hint.
        self.problems: list[str] = list(problems)


class StoreError(SeamlineError):
    """The database could not be used."""

    exception_type = "STORE_UNAVAILABLE"


class LeaseLost(StoreError):
    """This worker lost its lease on the job (expired or taken over); nothing was applied."""

    exception_type = "LEASE_LOST"


class ExternalError(SeamlineError):
    """A call to an external system failed."""

    exception_type = "EXTERNAL_ERROR"
    owner = "operations"

    def __init__(
        self, message: str | None = None, *, system: str = "", status: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        #: ``centra`` or ``bluecherry``.
        self.system = system
        #: The HTTP status, where there was one.
        self.status = status


class RetriableError(ExternalError):
    """The call failed for a passing reason; it may be retried."""

    exception_type = "POST_FAILED"

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        #: Seconds to wait before retrying, when the other side said so.
        self.retry_after = retry_after


class AlertNotDelivered(RetriableError):
    """A notification could not be delivered to its route (email, Slack, Teams); the
    ``alerts.send`` job retries it with backoff."""

    exception_type = "ALERT_FAILED"
    owner = "integrator"


class RateLimited(RetriableError):
    """The other system throttled the call (429)."""


class TransientError(RetriableError):
    """The other system failed for a passing reason (5xx, reset, timeout)."""


class AmbiguousWrite(RetriableError):
    """A write timed out or failed after it may have been applied: read back before any retry."""


class PermanentError(ExternalError):
    """The call was refused; the same call cannot succeed later."""


class AuthFailed(PermanentError):
    """The credentials were refused or lack a permission."""

    exception_type = "AUTH_FAILED"
    owner = "integrator"


class SchemaMismatch(PermanentError):
    """The other system refused a query it does not know: a field, argument or type that its
    schema lacks (an API version or environment difference, not bad data)."""

    exception_type = "CENTRA_SCHEMA_MISMATCH"
    owner = "integrator"

    def __init__(self, message: str | None = None, *, operation: str = "",
                 fields: Sequence[str] = (), **details: Any) -> None:
        super().__init__(message, operation=operation, fields=list(fields), **details)
        #: One exception for the cause, whichever job met it (the schema guard's key).
        self.exception_key = "centra:schema"
        #: The operation refused (the adapter's document name).
        self.operation = operation
        #: What the schema lacks, as ``Type.field`` (or the server's message when unparsed).
        self.fields: list[str] = list(fields)


class Rejected(PermanentError):
    """The other system rejected the data (422 / GraphQL userErrors)."""

    exception_type = "POST_REJECTED"
    #: BlueCherry codes that make the rejection finance's; every other code is ecommerce's.
    FINANCE_CODES: ClassVar[frozenset[str]] = frozenset(
        {"BAD_PRICE", "TOTALS_MISMATCH", "UNKNOWN_CURRENCY"}
    )

    def __init__(
        self, message: str | None = None, *, codes: Sequence[Mapping[str, Any]] = (),
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        #: The coded details, e.g. ``[{"field": "lines[0].upc", "code": "UNKNOWN_SKU"}]``.
        self.codes: list[dict[str, Any]] = [dict(c) for c in codes]

    def owner_for(self) -> str:
        found = {str(c.get("code", "")) for c in self.codes}
        if found and found <= self.FINANCE_CODES:
            return "finance"
        return "ecommerce"


class Conflict(PermanentError):
    """A record with the same key exists and differs from what was sent."""

    exception_type = "POST_CONFLICT"

    def __init__(
        self, message: str | None = None, *, existing: Mapping[str, Any] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        #: The existing record as the other system returned it.
        self.existing = dict(existing) if existing is not None else None


class NotFound(PermanentError):
    """The record does not exist in the other system."""

    exception_type = "NOT_FOUND"


class DataError(SeamlineError):
    """The data cannot be processed as it is; the item is parked until someone acts."""

    exception_type = "INVALID_DATA"
    owner = "ecommerce"


class MappingMissing(DataError):
    """No mapping is configured for a market, store, shipping option or warehouse."""

    exception_type = "MAPPING_MISSING"

    def __init__(self, message: str | None = None, *, kind: str, key: str, **details: Any) -> None:
        super().__init__(message or f"no {kind} mapping for {key!r}", **details)
        #: What kind of mapping is missing (``market``, ``shipping_option``, ...).
        self.kind = kind
        #: The unmapped value, as it must appear in the configuration.
        self.key = key


class UnknownSku(DataError):
    """A line's SKU or GTIN is not in BlueCherry's catalogue."""

    exception_type = "UNKNOWN_SKU"

    def __init__(self, message: str | None = None, *, sku: str, gtin: str = "", **details: Any):
        super().__init__(message or f"SKU {sku!r} (GTIN {gtin or '-'}) is not in the catalogue",
                         **details)
        self.sku = sku
        self.gtin = gtin


class TotalMismatch(DataError):
    """Centra's own amounts do not tie out."""

    exception_type = "TOTAL_MISMATCH"
    owner = "finance"

    def __init__(
        self, message: str | None = None, *, component: str, expected: str, actual: str,
        **details: Any,
    ) -> None:
        super().__init__(
            message or f"{component}: expected {expected}, computed {actual}", **details
        )
        #: The component that does not tie out (``grand_total``, ``tax``, ...).
        self.component = component
        self.expected = expected
        self.actual = actual


class ShipmentUnmatched(DataError):
    """A BlueCherry shipment cannot become a Centra shipment as it is: its order or a line is
    unknown, it ships more units than the Centra line holds, or Centra refused it."""

    exception_type = "SHIPMENT_UNMATCHED"
    owner = "operations"
    #: ``kind`` → the exception type people see.
    TYPES: ClassVar[dict[str, str]] = {
        "order": "SHIPMENT_UNKNOWN_ORDER",
        "line": "SHIPMENT_UNKNOWN_LINE",
        "quantity": "SHIPMENT_OVER_QUANTITY",
        "refused": "SHIPMENT_REFUSED",
    }

    def __init__(self, message: str | None = None, *, kind: str, shipment_no: str,
                 **details: Any) -> None:
        super().__init__(message, kind=kind, shipment_no=shipment_no, **details)
        #: ``order``, ``line``, ``quantity`` or ``refused``.
        self.kind = kind
        self.shipment_no = shipment_no

    def type_for(self) -> str:
        return self.TYPES.get(self.kind, self.exception_type)


class InvalidRecord(DataError):
    """A record is malformed and cannot be read."""
