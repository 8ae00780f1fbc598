"""Online preflight: every mapped code checked against BlueCherry's master data."""

from __future__ import annotations

from pathlib import Path

from bluecherry_fixtures import world_master_data

from seamline.config import Settings, load_settings
from seamline.services.preflight import check_mappings, check_online

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
