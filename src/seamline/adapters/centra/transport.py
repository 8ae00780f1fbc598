"""What every request to Centra carries: the bearer token (added at send time, never in a repr
or a log), timezone-aware ISO 8601 dates, and JSON with ``Decimal`` amounts as strings."""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from decimal import Decimal

import httpx

from seamline.config import CentraSettings

__all__ = ["BearerAuth", "iso", "json_default"]


class BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer`` at send time; the token is never in a repr or a log."""

    def __init__(self, settings: CentraSettings) -> None:
        self._settings = settings

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._settings.token
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("datetimes sent to Centra must be timezone-aware")
    return value.isoformat()


def json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
