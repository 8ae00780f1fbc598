"""Online preflight: every mapped code checked against BlueCherry's master data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from bluecherry_fixtures import world_master_data
from pydantic import SecretStr

from seamline.adapters.bluecherry import BlueCherryClient
from seamline.adapters.bluecherry import translate as tr
from seamline.config import BlueCherrySettings, Settings, load_settings
from seamline.services.preflight import check_mappings, check_online
from seamline_sandbox import world as w

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "seamline.toml"


def _settings(**overrides: object) -> Settings:
    return load_settings(EXAMPLE, env={}, overrides=overrides)


def test_the_example_configuration_matches_the_sandbox_world() -> None:
    """examples/seamline.toml maps only codes that exist and belong together."""
    assert check_mappings(_settings(), world_master_data()) == []


def test_each_wrong_code_is_one_line_with_its_key_path() -> None:
    """Unknown codes, a warehouse of another division, a foreign store and currency all show."""
    base = _settings()
    first = base.markets[0].model_dump()
    bad = {**first, "division": "D01", "warehouse": "W02", "customer": "WEBSE", "store": "DE",
           "currency": "EUR", "order_type": "XX", "terms": "NET99", "season": "SS99"}
    settings = _settings(markets=[bad], shipping_options={"se-standard": "NOPE"},
                         warehouses={"1": ["W01", "W09"]})
    problems = check_mappings(settings, world_master_data())
    starts = sorted(p.split(":")[0] for p in problems)
    assert starts == sorted([
        "markets[0].warehouse", "markets[0].currency", "markets[0].store",
        "markets[0].order_type", "markets[0].terms", "markets[0].season",
        "shipping_options.se-standard", "warehouses.1[1]",
    ])
    assert any("belongs to division D02" in p for p in problems)


def test_an_unknown_division_and_customer_are_named() -> None:
    """A division or customer BlueCherry does not have is reported with what it does have."""
    first = _settings().markets[0].model_dump()
    settings = _settings(markets=[{**first, "division": "D99", "customer": "NOBODY"}])
    problems = check_mappings(settings, world_master_data())
    assert any(p.startswith("markets[0].division: 'D99'") and "D01" in p for p in problems)
    assert any(p.startswith("markets[0].customer: 'NOBODY'") for p in problems)


def test_missing_credentials_are_one_line_naming_the_setting() -> None:
    """Without keys, the online check names the environment variables to set."""
    problems = check_online(_settings())
    assert "bluecherry.api_key: not set; set SEAMLINE_BLUECHERRY_API_KEY" in problems
    assert "centra.token: not set; set SEAMLINE_CENTRA_TOKEN" in problems


def _per_division_bluecherry(seasons: list[dict[str, str]]) -> BlueCherryClient:
    """A BlueCherry fake (over HTTP) with the sandbox world's codes, whose seasons are kept per
    division the way a real BlueCherry lists them: one row per (season, division)."""
    lists: dict[str, list[dict[str, Any]]] = {
        "divisions": [{"code": c, "name": n} for c, n in w.BC_DIVISIONS.items()],
        "warehouses": [{"code": c, "name": n, "division": d}
                       for c, (n, d) in w.BC_WAREHOUSES.items()],
        "customers": [{"code": c, "name": n, "division": d, "currency": cur, "terms": t,
                       "stores": [{"code": s} for s in stores]}
                      for c, (n, d, cur, t, stores) in w.BC_CUSTOMERS.items()],
        "ship-vias": [{"code": c} for c in w.BC_SHIP_VIAS],
        "order-types": [{"code": c} for c in w.BC_ORDER_TYPES],
        "terms": [{"code": c} for c in w.BC_TERMS],
        "seasons": seasons,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=lists[request.url.path.rsplit("/", 1)[-1]])

    cfg = BlueCherrySettings(base_url="http://bc.test/api/v1", api_key=SecretStr("k"))
    return BlueCherryClient(cfg, http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_a_season_listed_under_several_divisions_is_known_under_each() -> None:
    """Every row counts: FW26 listed under D01 and then D02 is valid for both (the example maps
    FW26 to markets of D01 and of D02), not only for the division of the last row."""
    master = tr.master_data_from_wire(
        divisions=[], warehouses=[], customers=[], ship_vias=[], order_types=[], terms=[],
        seasons=[{"code": "FW26", "division": "D01"}, {"code": "FW26", "division": "D02"},
                 {"code": "SS27", "division": ""}],
    )
    assert master.seasons == {"FW26": frozenset({"D01", "D02"}), "SS27": frozenset({""})}
    assert master.season_valid_for("FW26", "D01")
    assert master.season_valid_for("FW26", "D02")
    assert not master.season_valid_for("FW26", "D03")
    assert master.season_valid_for("SS27", "D03")  # company-wide
    assert not master.season_valid_for("SS99", "D01")


def test_the_example_configuration_passes_against_per_division_seasons() -> None:
    """`config check --online`'s mapping check, fed by the client from a BlueCherry that lists
    FW26 once per division, finds nothing wrong with examples/seamline.toml."""
    bc = _per_division_bluecherry([
        {"code": "FW26", "name": "Fall/Winter 2026", "division": "D01"},
        {"code": "FW26", "name": "Fall/Winter 2026", "division": "D02"},
        {"code": "SS27", "name": "Spring/Summer 2027", "division": "D02"},
    ])
    with bc:
        master = bc.master_data()
    assert check_mappings(_settings(), master) == []


def test_a_season_of_other_divisions_only_is_named_with_them() -> None:
    """A season BlueCherry lists only under other divisions is one line naming them."""
    bc = _per_division_bluecherry([
        {"code": "FW26", "division": "D02"},
        {"code": "SS27", "division": "D02"},
        {"code": "SS27", "division": "D03"},
    ])
    with bc:
        master = bc.master_data()
    first = _settings().markets[0].model_dump()  # Sweden, division D01
    problems = check_mappings(_settings(markets=[{**first, "season": "SS27"}]), master)
    assert problems == ["markets[0].season: SS27 belongs to division(s) D02, D03, not D01; "
                        "map a season of D01"]
