"""The typed settings: where they come from, what wins, and that secrets never print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from seamline.config import (
    MarketMapping,
    ScheduleEntry,
    Settings,
    find_config_path,
    load_settings,
)
from seamline.exceptions import ConfigError
from seamline_sandbox.world import CENTRA_WAREHOUSES, MARKET_CODES, MARKETS, SHIPPING_CODES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
MASK = "**********"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_explicit_config_path_wins_over_the_environment_and_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config beats $SEAMLINE_CONFIG, which beats ./seamline.toml."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "seamline.toml", '[web]\nport = 1001\n')
    _write(tmp_path / "env.toml", '[web]\nport = 1002\n')
    _write(tmp_path / "flag.toml", '[web]\nport = 1003\n')
    monkeypatch.setenv("SEAMLINE_CONFIG", str(tmp_path / "env.toml"))
    assert load_settings(tmp_path / "flag.toml").web.port == 1003
    assert load_settings().web.port == 1002
    monkeypatch.delenv("SEAMLINE_CONFIG")
    assert load_settings().web.port == 1001
    assert find_config_path() == tmp_path / "seamline.toml"


def test_the_database_url_from_the_environment_overrides_the_file(tmp_path: Path) -> None:
    """SEAMLINE_DATABASE_URL replaces [store].database_url."""
    cfg = _write(tmp_path / "s.toml", '[store]\ndatabase_url = "sqlite:///file.db"\n')
    assert load_settings(cfg, env={}).store.database_url == "sqlite:///file.db"
    env = {"SEAMLINE_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/seamline"}
    assert load_settings(cfg, env=env).store.database_url == env["SEAMLINE_DATABASE_URL"]


def test_secrets_come_from_the_environment_and_never_print(tmp_path: Path) -> None:
    """repr, str and model_dump_json of the settings show the mask, never the secret."""
    cfg = _write(tmp_path / "s.toml", "")
    env = {
        "SEAMLINE_CENTRA_TOKEN": "centra-token-xyz123",
        "SEAMLINE_BLUECHERRY_API_KEY": "bc-key-abc987",
        "SEAMLINE_CENTRA_WEBHOOK_SECRET": "whsec-555777",
    }
    settings = load_settings(cfg, env=env)
    assert settings.centra.token is not None
    assert settings.centra.token.get_secret_value() == "centra-token-xyz123"
    for text in (repr(settings), str(settings), settings.model_dump_json(),
                 str(settings.model_dump())):
        for secret in env.values():
            assert secret not in text
        assert MASK in text


def test_secrets_can_come_from_a_secrets_file(tmp_path: Path) -> None:
    """SEAMLINE_SECRETS_FILE names a TOML file of lower-case secret names."""
    secrets = _write(tmp_path / "secrets.toml", 'bluecherry_api_key = "from-file-1234"\n')
    cfg = _write(tmp_path / "s.toml", "")
    settings = load_settings(cfg, env={"SEAMLINE_SECRETS_FILE": str(secrets)})
    assert settings.bluecherry.api_key is not None
    assert settings.bluecherry.api_key.get_secret_value() == "from-file-1234"
    assert "from-file-1234" not in settings.model_dump_json()


def test_a_secret_written_in_the_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    """A token in the TOML file is a problem that names the environment variable to use."""
    cfg = _write(tmp_path / "s.toml", '[centra]\ntoken = "oops-in-file"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    assert any(p.startswith("centra.token:") and "SEAMLINE_CENTRA_TOKEN" in p
               for p in info.value.problems)
    assert "oops-in-file" not in " ".join(info.value.problems)


def test_every_problem_is_listed_with_its_key_path(tmp_path: Path) -> None:
    """All problems at once, each naming where it is: no fix-one-rerun-find-the-next."""
    cfg = _write(
        tmp_path / "s.toml",
        "[web]\nprot = 80\n"
        "[orders]\npost_statuses = [\"PENDING\", \"PAID\"]\n"
        "[[markets]]\ncentra_market = 1\ndivision = \"D01\"\nwarehouse = \"W01\"\n"
        "customer = \"C\"\nstore = \"S\"\norder_type = \"ECOM\"\nterms = \"PREPAID\"\n"
        "season = \"FW26\"\ncutoff = \"24:30\"\ntimezone = \"Mars/Olympus\"\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    paths = sorted(p.split(":", 1)[0] for p in info.value.problems)
    assert paths == ["markets[0].cutoff", "markets[0].prices_include_tax", "markets[0].timezone",
                     "orders.post_statuses", "web.prot"]
    (tax,) = [p for p in info.value.problems if p.startswith("markets[0].prices_include_tax")]
    assert "VAT" in tax
    assert "sales-tax" in tax
    assert all(len(p.split(":", 1)[1].strip()) > 5 for p in info.value.problems)


def test_a_missing_explicit_config_file_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    """Naming a file that is not there points at the example."""
    with pytest.raises(ConfigError, match=r"not found; copy examples/seamline.toml"):
        load_settings(tmp_path / "nope.toml", env={})


def test_the_example_configuration_is_valid_and_maps_the_sandbox_world() -> None:
    """examples/seamline.toml loads, and maps markets 1-5 exactly as the sandbox world says."""
    settings = load_settings(EXAMPLE, env={})
    assert settings.centra.base_url == "http://127.0.0.1:8701/graphql"
    assert settings.bluecherry.base_url == "http://127.0.0.1:8702/api/v1"
    mapped = {m.centra_market: m for m in settings.markets}
    assert set(mapped) == set(MARKET_CODES)
    assert 6 not in mapped
    for market_id, codes in MARKET_CODES.items():
        m = mapped[market_id]
        world = next(w for w in MARKETS if w.id == market_id)
        assert (m.division, m.warehouse, m.customer, m.store) == (
            codes["division"], codes["warehouse"], codes["customer"], codes["store"])
        assert m.currency == world.currency
        assert m.timezone == world.time_zone
        assert (m.order_type, m.terms, m.season, m.confirm_after_post) == (
            "ECOM", "PREPAID", "FW26", True)
    assert settings.shipping_options == SHIPPING_CODES
    assert "pickup-point" not in settings.shipping_options
    assert settings.warehouses == {str(k): [v[1]] for k, v in CENTRA_WAREHOUSES.items()}
    assert json.loads(settings.model_dump_json())["store"]["database_url"].startswith("sqlite")


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        out.append(f"{prefix}{name}")
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel) and ann is not MarketMapping:
            out += _keys(ann, f"{prefix}{name}.")
    return out


def test_the_configuration_reference_documents_every_key() -> None:
    """docs/configuration.md names every settings key, so the reference cannot fall behind."""
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [k for k in _keys(Settings) if f"`{k.rsplit('.', 1)[-1]}`" not in doc
               and f"[{k}" not in doc]
    missing += [f"markets.{k}" for k in MarketMapping.model_fields if f"`{k}`" not in doc]
    missing += [f"schedules.{k}" for k in ScheduleEntry.model_fields if f"`{k}`" not in doc]
    assert missing == []


def test_a_stock_buffer_must_name_a_mapped_centra_warehouse() -> None:
    """A buffer for a Centra warehouse no BlueCherry warehouse feeds would never apply."""
    with pytest.raises(ValidationError, match=r"stock.buffers\[0\]: Centra warehouse 9"):
        Settings.model_validate({"warehouses": {"1": ["W01"]},
                                 "stock": {"buffers": [{"warehouse": 9, "units": 2}]}})
    ok = Settings.model_validate({"warehouses": {"1": ["W01"]},
                                  "stock": {"buffers": [{"warehouse": 1, "units": 2}]}})
    assert ok.stock.buffers[0].units == 2
