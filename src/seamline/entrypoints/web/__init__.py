"""The web entrypoint: health, Prometheus metrics and the server-rendered dashboard."""

from __future__ import annotations
