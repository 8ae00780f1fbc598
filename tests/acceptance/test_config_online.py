"""``seamline config check --online`` against sandboxes: every Centra operation is held against
the schema the environment serves and the fields the token may read, naming what is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamline_sandbox.harness import Sandboxes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def _check(sb: Sandboxes, tmp: Path,
           edit: tuple[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    text = EXAMPLE.read_text(encoding="utf-8")
    if edit is not None:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1], 1)
    text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
    text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
    cfg = tmp / "seamline.toml"
    cfg.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp / 'seamline.db'}",
               SEAMLINE_CENTRA_TOKEN=sb.centra_token,
               SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key)
    return subprocess.run([str(SEAMLINE), "-c", str(cfg), "config", "check", "--online"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(seed=5, lift_rate_limits=True) as sb:
        yield sb


def test_the_example_configuration_passes_online_against_the_sandboxes(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    """Every operation validates against the served schema and every read is allowed."""
    sandboxes.centra.set_hidden_fields([])
    proc = _check(sandboxes, tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_centra_without_an_order_field_fails_online_naming_the_field_and_operations(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    """A Centra whose schema lacks Order.shippingAddress: exit 2, one line per operation that
    reads it, each naming the field, the operation and the flow; nothing about the rest."""
    sandboxes.centra.set_hidden_fields(["Order.shippingAddress"])
    try:
        proc = _check(sandboxes, tmp_path)
    finally:
        sandboxes.centra.set_hidden_fields([])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "Order.shippingAddress" in ln]
    named = {op for ln in lines for op in ("orders_updated", "orders_page", "orders_by_number")
             if f"operation {op} " in ln}
    assert named == {"orders_updated", "orders_page", "orders_by_number"}, proc.stderr
    assert all("schema mismatch" in ln and "(orders)" in ln for ln in lines)
    assert "rate_limits" not in proc.stderr


def test_a_market_centra_does_not_have_fails_online(sandboxes: Sandboxes,
                                                    tmp_path: Path) -> None:
    """A mapped centra_market missing from Centra's ``markets``: exit 2 and the line."""
    sandboxes.centra.set_hidden_fields([])
    proc = _check(sandboxes, tmp_path, ("centra_market = 1\n", "centra_market = 91\n"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "markets[0].centra_market: 91 is not a Centra market (Centra has: 1 (" in (
        proc.stdout + proc.stderr)


def test_a_currency_centra_does_not_have_fails_online(sandboxes: Sandboxes,
                                                      tmp_path: Path) -> None:
    """A mapped currency (valid ISO 4217) missing from Centra's ``currencies``: exit 2, the line."""
    sandboxes.centra.set_hidden_fields([])
    proc = _check(sandboxes, tmp_path, ('currency = "SEK"\n', 'currency = "CHF"\n'))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("markets[0].currency: 'CHF' is not a currency in Centra (Centra has: EUR, GBP, "
            "JPY, NOK, SEK, USD)") in proc.stdout + proc.stderr
