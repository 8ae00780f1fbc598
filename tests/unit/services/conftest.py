"""The order builders of tests/unit/domain (orderkit.py) serve the service tests too."""

from __future__ import annotations

import sys
from pathlib import Path

_KIT = str(Path(__file__).resolve().parents[1] / "domain")
if _KIT not in sys.path:
    sys.path.insert(0, _KIT)
