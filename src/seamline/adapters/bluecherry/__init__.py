"""BlueCherry REST adapter (assumed contract v1): client, classification, translation."""

from __future__ import annotations

from seamline.adapters.bluecherry.classify import classify
from seamline.adapters.bluecherry.client import BlueCherryClient

__all__ = ["BlueCherryClient", "classify"]
