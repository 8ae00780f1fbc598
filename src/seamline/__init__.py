"""Seamline: Centra ↔ CGS BlueCherry order-to-cash integration."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
