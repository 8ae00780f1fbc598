"""``seamline config check --online``: verify the mappings against BlueCherry's master data and
that both systems answer with the configured credentials.

Every problem is one line: the key path as written in the configuration, what is wrong, and a
hint. ``check_mappings`` is the pure part (settings + master data → lines) and is what the tests
exercise in detail; ``check_online`` builds the real clients from the settings and calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from seamline.config import MarketMapping, Settings
from seamline.domain.erp import MasterData
from seamline.exceptions import AuthFailed, ConfigError, ExternalError, SeamlineError

__all__ = ["check_mappings", "check_markets", "check_online"]


def _known(codes: object) -> str:
    listed = sorted(codes)  # type: ignore[call-overload]
    shown = ", ".join(listed[:12]) + (" ..." if len(listed) > 12 else "")
    return f"BlueCherry has: {shown}" if listed else "BlueCherry lists none"


def _customer_problems(at: str, m: MarketMapping, master: MasterData, *,
                       division_ok: bool) -> list[str]:
    customer = master.customers.get(m.customer)
    if customer is None:
        return [f"{at}.customer: {m.customer!r} is not a BlueCherry customer "
                f"({_known(master.customers)})"]
    problems: list[str] = []
    if m.currency and customer.currency and customer.currency != m.currency:
        problems.append(f"{at}.currency: customer {m.customer} trades in "
                        f"{customer.currency}, the market in {m.currency}; map a "
                        f"customer in {m.currency}")
    if m.store not in customer.stores:
        problems.append(f"{at}.store: {m.store!r} is not a store of customer "
                        f"{m.customer} (its stores: "
                        f"{', '.join(customer.stores) or 'none'})")
    if division_ok and customer.division and customer.division != m.division:
        problems.append(f"{at}.customer: {m.customer} belongs to division "
                        f"{customer.division}, not {m.division}")
    return problems


def _warehouse_problems(at: str, m: MarketMapping, master: MasterData, *,
                        division_ok: bool) -> list[str]:
    wh_div = master.warehouses.get(m.warehouse)
    if wh_div is None:
        return [f"{at}.warehouse: {m.warehouse!r} is not a BlueCherry warehouse "
                f"({_known(master.warehouses)})"]
    if division_ok and wh_div != m.division:
        return [f"{at}.warehouse: {m.warehouse!r} belongs to division {wh_div}, "
                f"not {m.division}; map a warehouse of {m.division}"]
    return []


def _season_problems(at: str, m: MarketMapping, master: MasterData, *,
                     division_ok: bool) -> list[str]:
    season_divs = master.seasons.get(m.season)
    if season_divs is None:
        return [f"{at}.season: {m.season!r} is not a BlueCherry season "
                f"({_known(master.seasons)})"]
    if division_ok and not master.season_valid_for(m.season, m.division):
        return [f"{at}.season: {m.season} belongs to division(s) "
                f"{', '.join(sorted(season_divs))}, not {m.division}; map a "
                f"season of {m.division}"]
    return []


def _market_problems(at: str, m: MarketMapping, master: MasterData) -> list[str]:
    division_ok = m.division in master.divisions
    problems: list[str] = []
    if not division_ok:
        problems.append(f"{at}.division: {m.division!r} is not a BlueCherry division "
                        f"({_known(master.divisions)})")
    problems += _warehouse_problems(at, m, master, division_ok=division_ok)
    problems += _customer_problems(at, m, master, division_ok=division_ok)
    if m.order_type not in master.order_types:
        problems.append(f"{at}.order_type: {m.order_type!r} is not a BlueCherry order type "
                        f"({_known(master.order_types)})")
    if m.terms not in master.terms:
        problems.append(f"{at}.terms: {m.terms!r} is not a BlueCherry terms code "
                        f"({_known(master.terms)})")
    return problems + _season_problems(at, m, master, division_ok=division_ok)


def check_mappings(settings: Settings, master: MasterData) -> list[str]:
    """Every mapped code checked against BlueCherry's master data, one line per problem."""
    problems: list[str] = []
    for i, m in enumerate(settings.markets):
        problems += _market_problems(f"markets[{i}]", m, master)
    for option, ship_via in settings.shipping_options.items():
        if ship_via not in master.ship_vias:
            problems.append(f"shipping_options.{option}: {ship_via!r} is not a BlueCherry ship "
                            f"via ({_known(master.ship_vias)})")
    for centra_wh, codes in settings.warehouses.items():
        for j, code in enumerate(codes):
            if code not in master.warehouses:
                problems.append(f"warehouses.{centra_wh}[{j}]: {code!r} is not a BlueCherry "
                                f"warehouse ({_known(master.warehouses)})")
    return problems


def check_markets(settings: Settings, markets: Mapping[int, str],
                  currencies: Collection[str]) -> list[str]:
    """Each mapped ``centra_market`` and currency exists in Centra (existence only: Centra's
    schema does not say which currencies a market sells in)."""
    problems: list[str] = []
    known_markets = ", ".join(f"{i} ({n})" if n else str(i) for i, n in sorted(markets.items()))
    known_currencies = ", ".join(sorted(currencies))
    for i, m in enumerate(settings.markets):
        if m.centra_market not in markets:
            problems.append(f"markets[{i}].centra_market: {m.centra_market} is not a Centra "
                            f"market (Centra has: {known_markets or 'none'})")
        if m.currency and m.currency not in currencies:
            problems.append(f"markets[{i}].currency: {m.currency!r} is not a currency in "
                            f"Centra (Centra has: {known_currencies or 'none'})")
    return problems


def _bluecherry(settings: Settings) -> tuple[MasterData | None, list[str]]:
    from seamline.adapters.bluecherry.client import BlueCherryClient  # noqa: PLC0415

    if settings.bluecherry.api_key is None:
        return None, ["bluecherry.api_key: not set; set SEAMLINE_BLUECHERRY_API_KEY"]
    try:
        with BlueCherryClient(settings.bluecherry) as client:
            return client.master_data(), []
    except AuthFailed:
        return None, [
            "SEAMLINE_BLUECHERRY_API_KEY: BlueCherry refused the key; check the key and "
            f"bluecherry.auth_header ({settings.bluecherry.auth_header!r}) / "
            f"bluecherry.auth_scheme ({settings.bluecherry.auth_scheme!r})"
        ]
    except ExternalError as exc:
        return None, [f"bluecherry.base_url: BlueCherry at {settings.bluecherry.base_url} did "
                      f"not answer usefully ({exc.message}); check the URL and that it runs"]


def _centra(settings: Settings) -> list[str]:
    from seamline.adapters.centra.client import CentraClient  # noqa: PLC0415
    from seamline.adapters.centra.schema_check import check_live  # noqa: PLC0415

    if settings.centra.token is None:
        return ["centra.token: not set; set SEAMLINE_CENTRA_TOKEN"]
    try:
        client = CentraClient(settings.centra)
        try:
            client.rate_limits()
            # Every operation against the schema this environment serves, then each read
            # once: fields the environment lacks or the token may not read, by operation.
            problems = [p.line() for p in check_live(client)]
            if problems:
                return problems
            markets, currencies = client.markets_and_currencies()
            return check_markets(settings, markets, currencies)
        finally:
            client.close()
    except AuthFailed:
        return ["SEAMLINE_CENTRA_TOKEN: Centra refused the token; check it and its "
                "integration's permissions"]
    except ConfigError as exc:
        return [f"centra: {exc.message}"]
    except SeamlineError as exc:
        return [f"centra.base_url: Centra at {settings.centra.base_url} did not answer "
                f"usefully ({exc.message}); check the URL and that it runs"]
    return []


def check_online(
    settings: Settings, *, centra_check: Callable[[Settings], list[str]] | None = None
) -> list[str]:
    """Every problem found online, one line each (empty: both systems answer and every mapped
    code exists in BlueCherry and belongs together)."""
    master, problems = _bluecherry(settings)
    if master is not None:
        problems += check_mappings(settings, master)
    problems += (centra_check or _centra)(settings)
    return problems
