"""Make the shared BlueCherry test data (tests/contract/bluecherry_fixtures.py) importable."""

from __future__ import annotations

import sys
from pathlib import Path

_CONTRACT = str(Path(__file__).resolve().parents[2] / "contract")
if _CONTRACT not in sys.path:
    sys.path.insert(0, _CONTRACT)
