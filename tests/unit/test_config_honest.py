"""Offline checks that refuse what is wrong: currencies not in ISO 4217, a password in the file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seamline.config import load_settings
from seamline.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def _with_currency(tmp_path: Path, currency: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^currency = "SEK"$', f'currency = "{currency}"', text, count=1)
    assert n == 1
    path = tmp_path / "seamline.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("code", ["ZZZ", "DEM", "XXX"])
def test_a_currency_that_is_not_iso_4217_in_use_is_refused_with_its_key_path(
    tmp_path: Path, code: str,
) -> None:
    """ZZZ (no such code), DEM (withdrawn), XXX (no currency): a problem at markets[i].currency."""
    with pytest.raises(ConfigError) as info:
        load_settings(_with_currency(tmp_path, code), env={})
    assert any(re.match(r"markets\[\d+\]\.currency: ", p) and code in p
               and "ISO 4217" in p for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("code", ["sek", "JPY", "KWD", "EUR"])
def test_currencies_in_use_pass_in_any_case(tmp_path: Path, code: str) -> None:
    """Real codes pass and are upper-cased."""
    settings = load_settings(_with_currency(tmp_path, code), env={})
    assert code.upper() in {m.currency for m in settings.markets}


def test_a_password_in_the_files_database_url_is_refused_without_printing_it(
    tmp_path: Path,
) -> None:
    """user:password@host in the file is a problem naming SEAMLINE_DATABASE_URL; even when the
    environment overrides the URL, the file still holds the secret and is refused."""
    cfg = tmp_path / "s.toml"
    cfg.write_text('[store]\ndatabase_url = "postgresql+psycopg://app:s3cr3t-pw@db:5432/x"\n',
                   encoding="utf-8")
    for env in ({}, {"SEAMLINE_DATABASE_URL": "sqlite:///x.db"}):
        with pytest.raises(ConfigError) as info:
            load_settings(cfg, env=env)
        text = " ".join(info.value.problems) + str(info.value)
        assert "s3cr3t-pw" not in text
        assert any(p.startswith("store.database_url: holds a password")
                   and "SEAMLINE_DATABASE_URL" in p for p in info.value.problems)


def test_a_database_url_with_a_password_may_come_from_the_environment_or_the_secrets_file(
    tmp_path: Path,
) -> None:
    """The places for a secret: SEAMLINE_DATABASE_URL, or database_url in the secrets file."""
    cfg = tmp_path / "s.toml"
    cfg.write_text('[store]\ndatabase_url = "postgresql+psycopg://app@db:5432/x"\n',
                   encoding="utf-8")
    url = "postgresql+psycopg://app:pw@db:5432/x"
    assert load_settings(cfg, env={"SEAMLINE_DATABASE_URL": url}).store.database_url == url
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'database_url = "{url}"\n', encoding="utf-8")
    env = {"SEAMLINE_SECRETS_FILE": str(secrets)}
    assert load_settings(cfg, env=env).store.database_url == url


def test_config_check_over_the_cli_refuses_zzz_with_exit_2(tmp_path: Path) -> None:
    """The real `seamline config check`: exit 2 and the line names the key and the code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env["COLUMNS"] = "300"
    proc = subprocess.run([str(SEAMLINE), "-c", str(_with_currency(tmp_path, "ZZZ")),
                           "config", "check"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"markets\[\d+\]\.currency: ZZZ is not an ISO 4217 currency in use",
                     proc.stderr), proc.stderr
