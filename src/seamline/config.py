"""One typed settings object, loaded once from a TOML file plus ``SEAMLINE_*`` environment.

Where the file is found: ``--config PATH``, else ``$SEAMLINE_CONFIG``, else ``./seamline.toml``.
Secrets never live in the file: they come from the environment (``SEAMLINE_CENTRA_TOKEN``,
``SEAMLINE_BLUECHERRY_API_KEY``, ``SEAMLINE_CENTRA_WEBHOOK_SECRET``) or from a secrets file
(``SEAMLINE_SECRETS_FILE``: a TOML file of the same names in lower case), and are held as
``SecretStr`` so they never print. ``SEAMLINE_DATABASE_URL`` (or ``database_url`` in the secrets
file) overrides ``[store].database_url``; a URL with a password is refused in the file.

``load_settings`` reports *every* problem at once, each with its key path and a hint, as a
``ConfigError``; ``seamline config check`` prints them.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from seamline.exceptions import OWNERS, ConfigError

__all__ = [
    "BUDGET_FLOWS",
    "AlertSettings",
    "BlueCherrySettings",
    "BudgetSettings",
    "CentraSettings",
    "MarketMapping",
    "OrdersSettings",
    "QueueSettings",
    "Settings",
    "ShipmentsSettings",
    "StoreSettings",
    "find_config_path",
    "load_settings",
]

ENV_PREFIX = "SEAMLINE_"
DEFAULT_CONFIG_NAME = "seamline.toml"

_CUTOFF = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@functools.cache
def _currencies_in_use() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere today, from babel's CLDR data (the same
    data the money rules take minor units from); withdrawn codes such as DEM are not."""
    from babel.core import get_global  # noqa: PLC0415 - only when a currency is checked

    table = get_global("territory_currencies")
    return frozenset(code for rows in table.values()
                     for code, _start, end, tender in rows if end is None and tender)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    database_url: str = "sqlite:///seamline.db"


class RateLimitSettings(_Section):
    """Centra's token buckets (Growth tier by default); the client stays inside them."""

    requests_per_10s: int = Field(60, ge=1)
    requests_per_hour: int = Field(5000, ge=1)
    mutations_per_10s: int = Field(20, ge=1)
    mutations_per_hour: int = Field(1800, ge=1)
    complexity_per_10s: int = Field(250_000, ge=1)
    complexity_per_hour: int = Field(30_000_000, ge=1)


#: The flows that spend Centra's budget, each with a priority (lower goes first).
BUDGET_FLOWS = ("shipments", "orders", "stock_delta", "stock_sweep")


class BudgetSettings(_Section):
    """The Centra budget governor: one budget for every flow and process, by priority."""

    #: Share of each Centra quota Seamline allows itself (other integrations, clock skew).
    headroom: float = Field(0.9, gt=0, le=1)
    #: Priority per flow, lower first: a flow yields while a lower-numbered one waits.
    priorities: dict[str, int] = {"shipments": 0, "orders": 0, "stock_delta": 1,
                                  "stock_sweep": 2}
    #: Longest a flow yields, in seconds: past it, one call of that flow goes even while
    #: higher-priority work waits (stock deltas must not starve behind a shipment backlog that
    #: outlasts the budget: one ``setStock`` carries a whole minute's changes).
    max_yield_s: dict[str, float] = {"stock_delta": 60.0}
    #: Seconds a yielding flow waits before it looks again.
    yield_s: float = Field(0.5, gt=0, le=60)
    #: Seconds a flow's announcement that it waits stays valid (it renews it while waiting).
    demand_ttl_s: float = Field(3.0, gt=0, le=600)
    #: Seconds between calibrations from Centra's ``rateLimits`` (and one after every 429).
    calibrate_every_s: int = Field(300, ge=10)
    #: Seconds every process stops sending after a 429 without a ``Retry-After``.
    backoff_s: float = Field(10.0, gt=0, le=3600)
    #: ``CENTRA_BUDGET_DELAY`` when waiting shipments would delay dispatch emails this long.
    dispatch_delay_alert_min: int = Field(30, ge=1, le=1440)
    #: Owner of ``CENTRA_BUDGET_DELAY``: ``cx`` or ``operations``.
    delay_owner: str = "operations"

    @model_validator(mode="after")
    def _known_flows(self) -> BudgetSettings:
        unknown = sorted((set(self.priorities) | set(self.max_yield_s)) - set(BUDGET_FLOWS))
        if unknown:
            raise ValueError(f"centra.budget.priorities: unknown flow(s) {', '.join(unknown)} "
                             f"(known: {', '.join(BUDGET_FLOWS)})")
        if self.delay_owner not in ("cx", "operations"):
            raise ValueError("centra.budget.delay_owner is cx or operations")
        return self

    def priority(self, flow: str) -> int:
        """The flow's priority (an unnamed flow goes first, like shipments)."""
        return self.priorities.get(flow, 0)


class CentraSettings(_Section):
    base_url: str = "http://127.0.0.1:8701/graphql"
    token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    #: Seconds a webhook signature stays acceptable.
    webhook_tolerance_s: int = Field(300, ge=1)
    #: Webhook bodies over this many bytes are refused unread (413).
    webhook_max_body_bytes: int = Field(1_000_000, ge=1024, le=100_000_000)
    timeout_s: float = Field(10.0, gt=0)
    page_size: int = Field(100, ge=1, le=200)
    #: Integration name (the events queue and id conversions are per integration).
    integration_name: str = "seamline"
    #: Read Centra's events queue every minute (fast intake; needs Event:read/Event:write and
    #: the events system switched on for the environment). Polling runs either way.
    use_events_queue: bool = False
    rate_limits: RateLimitSettings = RateLimitSettings()
    budget: BudgetSettings = BudgetSettings()


class BlueCherrySettings(_Section):
    base_url: str = "http://127.0.0.1:8702/api/v1"
    api_key: SecretStr | None = None
    auth_header: str = "Authorization"
    #: Prefix before the key, e.g. ``Bearer``; empty for a bare key header.
    auth_scheme: str = "Bearer"
    timeout_s: float = Field(15.0, gt=0)
    page_size: int = Field(200, ge=1, le=1000)
    #: Client-side ceiling on requests per second (0 = no ceiling).
    max_requests_per_s: float = Field(0, ge=0)


class OrdersSettings(_Section):
    post_statuses: list[str] = ["PENDING", "CONFIRMED"]
    customer_po_prefix: str = ""
    #: Lock orders in Centra after posting (stops customer service editing them).
    lock_after_post: bool = False
    #: Days after the order date that BlueCherry's cancel date falls.
    cancel_after_days: int = Field(14, ge=0)
    #: Minutes between polls of Centra by ``updatedAt`` (the safety net).
    poll_interval_min: int = Field(5, ge=1)
    #: Overlap re-read on every poll, seconds.
    poll_overlap_s: int = Field(120, ge=0)
    #: Days covered by the periodic full sweep.
    sweep_days: int = Field(7, ge=1)
    #: Attempts before a transient failure becomes ``POST_FAILED``.
    max_attempts: int = Field(12, ge=1)

    @field_validator("post_statuses")
    @classmethod
    def _statuses(cls, v: list[str]) -> list[str]:
        allowed = {"PENDING", "CONFIRMED", "PROCESSING", "SHIPPED"}
        bad = [s for s in v if s not in allowed]
        if bad:
            raise ValueError(f"unknown status {bad}; allowed: {sorted(allowed)}")
        return v


class MarketMapping(_Section):
    """Centra market (+ currency) → BlueCherry codes, and how its orders are posted."""

    centra_market: int
    currency: str | None = None
    division: str
    warehouse: str
    customer: str
    store: str
    order_type: str
    terms: str
    season: str
    #: The market's tax mode, stated by the integrator (never guessed from an order): true for
    #: VAT markets (prices include tax), false for sales-tax markets such as the US.
    prices_include_tax: bool
    mode: Literal["realtime", "daily"] = "realtime"
    cutoff: str = "23:00"
    timezone: str = "UTC"
    confirm_after_post: bool = False
    #: Send Centra's dispatch email for this market's shipments (None: ``[shipments]``).
    shipment_email: bool | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        if v is not None and not (len(v) == 3 and v.isalpha()):
            raise ValueError("must be an ISO 4217 code such as SEK")
        if v is not None and v.upper() not in _currencies_in_use():
            raise ValueError(f"{v.upper()} is not an ISO 4217 currency in use (e.g. SEK, EUR)")
        return v.upper() if v else v

    @field_validator("cutoff")
    @classmethod
    def _cutoff(cls, v: str) -> str:
        if not _CUTOFF.match(v):
            raise ValueError("must be HH:MM on a 24-hour clock, e.g. 23:00")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone such as Europe/Stockholm") from exc
        return v

    @property
    def cutoff_time(self) -> time:
        hh, mm = self.cutoff.split(":")
        return time(int(hh), int(mm))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class BufferSettings(_Section):
    """Units kept back from Centra for one Centra warehouse, for SKUs matching a pattern, or
    both (the most specific rule wins)."""

    units: int = Field(ge=0)
    warehouse: int | None = None
    sku: str | None = None


class StockSettings(_Section):
    """The stock flow: BlueCherry available-to-sell into Centra."""

    enabled: bool = True
    #: How often to look for a newly published BlueCherry cycle (the delta sync).
    delta_interval_s: int = Field(60, ge=5)
    #: How often to re-send every size (the full sync; also ``seamline stock sync --full``).
    full_interval_min: int = Field(1440, ge=1)
    #: Sizes per ``setStock`` mutation.
    batch_size: int = Field(1000, ge=1, le=1000)
    #: What identifies a size in Centra: the BlueCherry SKU (``sku``) or its UPC as an EAN-13
    #: (``ean``). ``[sku_overrides]`` are applied in reverse first.
    centra_key: Literal["sku", "ean"] = "sku"
    default_buffer: int = Field(0, ge=0)
    buffers: list[BufferSettings] = []
    #: ``STOCK_SYNC_STALE`` once this many published cycles have not reached Centra.
    stale_after_cycles: int = Field(3, ge=1)
    #: ``STOCK_SYNC_FAILED`` once this many sync runs in a row could not push every size.
    failed_after_runs: int = Field(3, ge=1)
    description: str = "Seamline stock sync"
class CarrierMapping(_Section):
    """The carrier and service names customers see for a BlueCherry ship via / SCAC code."""

    carrier: str = Field(min_length=1)
    service: str = ""


class ShipmentsSettings(_Section):
    """BlueCherry shipments into Centra."""

    #: Minutes between reads of BlueCherry's shipment feed.
    sync_interval_min: int = Field(5, ge=1)
    #: Send Centra's dispatch email when a shipment ships (``[[markets]].shipment_email`` wins).
    send_email: bool = True
    #: Capture the shipment's value through Centra's PSP when the shipment is created.
    capture: bool = True
    #: Cancel the units BlueCherry short-shipped on the Centra order lines.
    cancel_short: bool = True
    #: Watchdog: hours after BlueCherry confirmed a shipment before it is
    #: ``SHIPMENT_NOT_IN_CENTRA``.
    not_in_centra_after_h: float = Field(4.0, gt=0)
    #: Minutes between watchdog runs.
    watchdog_interval_min: int = Field(30, ge=1)
    #: ``seamline shipments unshipped``: orders in BlueCherry this many days with no shipment.
    unshipped_after_days: float = Field(5.0, gt=0)
    #: BlueCherry ship via, SCAC or carrier code → the carrier (and service) customers see.
    carriers: dict[str, CarrierMapping] = {}


class PaymentsSettings(_Section):
    """The daily payment batch: Centra captures → BlueCherry cash receipts, refunds → credit
    memos."""

    #: Run the daily batch (the ``payments-batch`` schedule).
    enabled: bool = True
    #: Wall-clock time, in each market's time zone, at which the previous business day's batch
    #: runs.
    batch_time: str = "06:00"
    #: ``per_capture``: one receipt per Centra capture; ``per_day_currency``: one receipt per
    #: BlueCherry customer, currency and payment method per business day.
    receipt_grouping: Literal["per_capture", "per_day_currency"] = "per_capture"
    #: Centra ``paymentMethod`` → BlueCherry receipt ``method`` (case-insensitive).
    methods: dict[str, str] = {}
    #: The BlueCherry method of a payment method not listed in ``methods``.
    default_method: str = Field("CARD", min_length=1, max_length=40)
    #: Days of Centra orders (by ``updatedAt``) read before the business day on the first run.
    lookback_days: int = Field(1, ge=0, le=60)

    @field_validator("batch_time")
    @classmethod
    def _batch_time(cls, v: str) -> str:
        if not _CUTOFF.match(v):
            raise ValueError("must be HH:MM on a 24-hour clock, e.g. 06:00")
        return v

    def batch_clock(self) -> time:
        hh, mm = self.batch_time.split(":")
        return time(int(hh), int(mm))
class DriftSettings(_Section):
    """Drift: BlueCherry sales orders that no longer say what Seamline posted."""

    #: Minutes between reads of BlueCherry's orders changed since the last scan.
    scan_interval_min: int = Field(5, ge=1)
    #: The first scan (no cursor yet) reads orders changed this many hours back.
    first_scan_lookback_h: int = Field(48, ge=1)


class WatchdogSettings(_Section):
    """Watchdogs over the order flow."""

    #: ``ORDER_MISSING_IN_ERP``: minutes after Centra created an order (real-time markets) or
    #: after its business day's cut-off (daily markets) before a missing BlueCherry order is
    #: an exception.
    missing_in_erp_after_min: int = Field(30, ge=1)
    #: Minutes between runs of the missing-in-ERP watchdog.
    missing_in_erp_interval_min: int = Field(5, ge=1)


class ReconcileSettings(_Section):
    """The daily reconciliation report (``reconcile.daily`` on the ``reconcile`` queue)."""

    #: Run the ``reconcile-daily`` schedule at all.
    enabled: bool = True
    #: Local time in each market's time zone, on the morning after the business day, at which
    #: the day is reconciled: after that market's payment batch.
    run_at: str = "07:00"

    @field_validator("run_at")
    @classmethod
    def _run_at(cls, v: str) -> str:
        if not _CUTOFF.match(v):
            raise ValueError("must be HH:MM on a 24-hour clock, e.g. 06:00")
        return v

    @property
    def run_time(self) -> time:
        hh, mm = self.run_at.split(":")
        return time(int(hh), int(mm))


class QueueSettings(_Section):
    """Concurrency per named queue, and the lease every claim holds."""

    concurrency: dict[str, int] = {"orders": 4, "writeback": 1, "intake": 1, "stock": 1,
                                   "payments": 1, "default": 2}
    lease_s: int = Field(60, ge=5)
    poll_interval_s: float = Field(0.5, gt=0)
    backoff_base_s: float = Field(2.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)
    #: A Retry-After longer than this releases the job with a later run time.
    max_inline_wait_s: float = Field(5.0, ge=0)
    #: Total age after which a retriable job gives up (hours); waiting out an outage is exempt.
    max_age_h: float = Field(72.0, gt=0)
    #: A system whose calls have failed this long with no success between is down: the jobs
    #: that need it wait, unclaimed, between probes.
    outage_after_s: float = Field(10.0, gt=0)
    #: While a system is down, the longest wait between two probes (jobs allowed to try it).
    outage_probe_max_s: float = Field(30.0, gt=0)
    #: Down this long: one exception (``SYSTEM_UNAVAILABLE``, operations) until it is back.
    outage_alert_after_min: float = Field(15.0, ge=0)


class ScheduleEntry(_Section):
    task: str
    every_s: int = Field(ge=1)
    args: dict[str, Any] = {}


ROLES = ("admin", "operator", "viewer")


class WebUser(_Section):
    """One person who may sign in to the dashboard (``[[web.users]]``)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal["admin", "operator", "viewer"] = "viewer"
    #: ``scrypt$...`` from ``seamline web hash-password``; never the password itself.
    password_hash: str = Field(min_length=1)

    @field_validator("password_hash")
    @classmethod
    def _is_a_hash(cls, value: str) -> str:
        if not value.startswith("scrypt$") or value.count("$") != 5:
            raise ValueError("not a password hash: make one with `seamline web hash-password`")
        return value


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8700, ge=0, le=65535)
    #: Any request body over this many bytes is refused unread (413), on every route.
    max_body_bytes: int = Field(1_000_000, ge=1024, le=100_000_000)
    #: ``/readyz`` wants Centra and BlueCherry to have answered within this many minutes.
    ready_max_age_min: int = Field(5, ge=1, le=1440)
    #: People who may sign in; none: the dashboard is read-only and served on loopback only.
    users: list[WebUser] = []
    #: Signs the session cookies (``SEAMLINE_WEB_SESSION_SECRET``); unset: a random one per
    #: process (everyone signs in again after a restart).
    session_secret: SecretStr | None = None
    #: A session ends this many minutes after sign-in.
    session_max_age_min: int = Field(720, ge=5, le=10_080)
    #: ``auto``: the cookie is ``Secure`` when the request came over https (or a proxy says so).
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    #: Failed sign-ins (per name and per client address) before sign-in is refused for a while.
    login_max_failures: int = Field(5, ge=1, le=100)
    #: Seconds sign-in stays refused after ``login_max_failures``.
    login_lockout_s: int = Field(300, ge=1, le=86_400)
    #: The time zone the dashboard shows times in (IANA name, e.g. ``Europe/Stockholm``).
    display_timezone: str = "UTC"
    #: Rows per page in the dashboard's lists.
    page_size: int = Field(50, ge=10, le=500)

    @field_validator("display_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                             "Europe/Stockholm") from None
        return value

    @model_validator(mode="after")
    def _unique_users(self) -> WebSettings:
        names = [u.name for u in self.users]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"web.users: the name(s) {', '.join(twice)} appear more than once")
        return self


class AlertSettings(_Section):
    """Alerts to the owner teams (``services.alerts``): routes, thresholds, the digest."""

    #: Apprise URLs per owner, e.g. ``{"finance": ["mailto://..."]}``.
    routes: dict[str, list[str]] = {}
    #: An open exception is alerted once it has been open this long (minutes) ...
    after_min: float = Field(0.0, ge=0)
    #: ... or this long for its type (``{"UNKNOWN_SKU" = 60}``).
    thresholds: dict[str, float] = {}
    #: Exceptions below this severity are left to the digest.
    min_severity: Literal["info", "warning", "error", "critical"] = "warning"
    #: Orders not posted this long (minutes; batch-waiting ones excluded): one alert.
    order_stuck_min: float = Field(30.0, gt=0)
    #: Centra or BlueCherry down (the outage circuit open) this long: one alert (minutes).
    outage_after_min: float = Field(0.0, ge=0)
    #: Each owner's daily digest, local time (``HH:MM``); empty: no digest.
    digest_at: str = "08:00"
    timezone: str = "UTC"
    #: How often the ``alerts`` schedule looks for what to send.
    interval_s: int = Field(60, ge=5)
    #: More new exceptions than this for one owner at once (go-live, a catalogue gap): one
    #: summary alert for them instead of one each.
    max_per_run: int = Field(10, ge=1)

    @field_validator("routes")
    @classmethod
    def _owners(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - set(OWNERS))
        if unknown:
            raise ValueError(f"unknown owner {', '.join(unknown)}; owners are "
                             f"{', '.join(OWNERS)}")
        return v

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, v: str) -> str:
        if v and not _CUTOFF.match(v):
            raise ValueError("must be HH:MM (24-hour), or empty for no digest")
        return v

    @field_validator("timezone")
    @classmethod
    def _alerts_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone such as Europe/Stockholm") from exc
        return v

    def __repr_args__(self) -> Any:
        # Route URLs carry tokens and passwords: never in a repr.
        for name, value in super().__repr_args__():
            yield name, ({k: ["<redacted>"] * len(u) for k, u in value.items()}
                         if name == "routes" else value)


class Settings(_Section):
    """Everything Seamline is configured with."""

    store: StoreSettings = StoreSettings()
    centra: CentraSettings = CentraSettings()
    bluecherry: BlueCherrySettings = BlueCherrySettings()
    orders: OrdersSettings = OrdersSettings()
    markets: list[MarketMapping] = []
    #: Centra shipping option uri → BlueCherry ship via.
    shipping_options: dict[str, str] = {}
    #: Centra warehouse id → BlueCherry warehouse codes.
    warehouses: dict[str, list[str]] = {}
    #: Explicit SKU overrides: Centra SKU or GTIN → BlueCherry SKU.
    sku_overrides: dict[str, str] = {}
    stock: StockSettings = StockSettings()
    shipments: ShipmentsSettings = ShipmentsSettings()
    payments: PaymentsSettings = PaymentsSettings()
    drift: DriftSettings = DriftSettings()
    watchdogs: WatchdogSettings = WatchdogSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    queues: QueueSettings = QueueSettings()
    schedules: dict[str, ScheduleEntry] = {}
    web: WebSettings = WebSettings()
    alerts: AlertSettings = AlertSettings()

    @model_validator(mode="after")
    def _unique_markets(self) -> Settings:
        seen: set[tuple[int, str | None]] = set()
        for m in self.markets:
            key = (m.centra_market, m.currency)
            if key in seen:
                raise ValueError(
                    f"market {m.centra_market} currency {m.currency or '(any)'} is mapped twice"
                )
            seen.add(key)
        return self

    @model_validator(mode="after")
    def _buffers_name_mapped_warehouses(self) -> Settings:
        mapped = set(self.warehouses)
        for i, rule in enumerate(self.stock.buffers):
            if rule.warehouse is not None and str(rule.warehouse) not in mapped:
                raise ValueError(
                    f"stock.buffers[{i}]: Centra warehouse {rule.warehouse} is not under "
                    f"[warehouses] (mapped: {', '.join(sorted(mapped)) or 'none'})")
        return self

    def market_for(self, market_id: int, currency: str) -> MarketMapping | None:
        """The mapping for a Centra market and currency (a currency-specific entry wins)."""
        fallback = None
        for m in self.markets:
            if m.centra_market != market_id:
                continue
            if m.currency == currency.upper():
                return m
            if m.currency is None:
                fallback = m
        return fallback


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, else ``$SEAMLINE_CONFIG``, else ``./seamline.toml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if env:
        return Path(env)
    return Path.cwd() / DEFAULT_CONFIG_NAME


_SECRETS: dict[str, tuple[str, str]] = {
    "CENTRA_TOKEN": ("centra", "token"),
    "CENTRA_WEBHOOK_SECRET": ("centra", "webhook_secret"),
    "BLUECHERRY_API_KEY": ("bluecherry", "api_key"),
    "WEB_SESSION_SECRET": ("web", "session_secret"),
    # Not secret as such, but a PostgreSQL URL may carry the password.
    "DATABASE_URL": ("store", "database_url"),
}


def _read_secrets(env: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    path = env.get(f"{ENV_PREFIX}SECRETS_FILE")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(f"SEAMLINE_SECRETS_FILE: cannot read {path} ({exc.strerror})")
            data = {}
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"SEAMLINE_SECRETS_FILE: {path} is not valid TOML ({exc})")
            data = {}
        for name in _SECRETS:
            if name.lower() in data:
                found[name] = str(data[name.lower()])
    for name in _SECRETS:
        value = env.get(f"{ENV_PREFIX}{name}")
        if value:
            found[name] = value
    return found


def _url_password(url: str) -> bool:
    """Whether a database URL carries a password (``user:pass@host``)."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only when a URL is checked
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        return bool(make_url(url).password)
    except (ArgumentError, ValueError):
        return bool(re.match(r"^[^:/]+://[^/@:]+:[^/@]+@", url))


def _loc(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """A key path as the user wrote it: ``markets[1].cutoff``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _hint(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        return "unknown key; check the spelling against examples/seamline.toml"
    if kind == "missing":
        loc = tuple(err.get("loc", ()))
        if loc and loc[-1] == "prices_include_tax":
            return ("required key is missing: say whether this market's prices include tax "
                    "(true for VAT markets, false for sales-tax markets such as the US)")
        return "required key is missing"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def _read_file(cfg_path: Path, *, required: bool) -> dict[str, Any]:
    """The TOML file's tables (empty when it is absent and not required)."""
    if not cfg_path.exists():
        if required:
            raise ConfigError(
                f"configuration file {cfg_path} not found; copy examples/seamline.toml there "
                "or pass --config PATH"
            )
        return {}
    try:
        return tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        # One line: the message names the file, the line and the column (no problem list
        # repeating it; the CLI prints the message and then each problem).
        raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read ({exc.strerror})") from None


def _move_secrets(data: dict[str, Any], env: Mapping[str, str], problems: list[str]) -> None:
    """Secrets found in the file are a problem (and dropped); secrets from the environment or
    the secrets file go into their sections."""
    for section, key in (("centra", "token"), ("bluecherry", "api_key"),
                         ("centra", "webhook_secret"), ("web", "session_secret")):
        if key in data.get(section, {}):
            problems.append(
                f"{section}.{key}: secrets do not belong in the file; set "
                f"SEAMLINE_{section.upper()}_{key.upper()} or use SEAMLINE_SECRETS_FILE"
            )
            data[section] = {k: v for k, v in data[section].items() if k != key}
    file_db = data.get("store", {}).get("database_url") if isinstance(
        data.get("store"), dict) else None
    if isinstance(file_db, str) and _url_password(file_db):
        problems.append(
            "store.database_url: holds a password; secrets do not belong in the file — set "
            "SEAMLINE_DATABASE_URL (in the environment or SEAMLINE_SECRETS_FILE as "
            "database_url) and keep the file's URL without it"
        )
    secrets = _read_secrets(env, problems)
    for name, (section, key) in _SECRETS.items():
        secret = secrets.get(name)
        if secret is not None:
            data.setdefault(section, {})
            data[section] = {**data[section], key: secret}


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    require_file: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load and validate the settings; raise ``ConfigError`` listing every problem.

    A missing file is fine (defaults apply) unless ``require_file`` or the path was given
    explicitly. ``overrides`` replaces whole top-level sections (used by tests and the demo).
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    cfg_path = find_config_path(path)
    explicit = bool(path) or f"{ENV_PREFIX}CONFIG" in env
    data = _read_file(cfg_path, required=explicit or require_file)
    for section, value in (overrides or {}).items():
        data[section] = value
    _move_secrets(data, env, problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{_loc(tuple(err['loc']), data)}: {_hint(err)}")
        settings = None
    if problems or settings is None:
        raise ConfigError(
            f"{cfg_path}: {len(problems)} problem(s) in the configuration", problems=problems
        )
    return settings
