"""Make the shared BlueCherry test data (tests/contract/bluecherry_fixtures.py) importable."""

from __future__ import annotations

import sys
from pathlib import Path

_CONTRACT = str(Path(__file__).resolve().parents[2] / "contract")
if _CONTRACT not in sys.path:
    sys.path.insert(0, _CONTRACT)


import pytest  # noqa: E402
import stamina  # noqa: E402


@pytest.fixture(autouse=True)
def _no_retry_waits() -> object:
    """In-process retries run without sleeping (at most 3 attempts) in unit tests."""
    with stamina.set_testing(True, attempts=3):
        yield
