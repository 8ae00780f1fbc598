"""Run the real reconciliation over HTTP against a BlueCherry sandbox seeded by
``reconcile_seed`` (shared by the seeded-month test, ``benchmarks/reconcile.py`` and scripts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pydantic import SecretStr

from seamline.adapters.bluecherry.client import BlueCherryClient
from seamline.config import BlueCherrySettings
from seamline.services.reconcile import MarketScope, Reconciler
from seamline.services.unit_of_work import Store
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.bluecherry.state import BlueCherryState
from seamline_sandbox.reconcile_seed import MARKETS
from seamline_sandbox.serve import ServerThread

__all__ = ["bluecherry_sandbox", "reconciler", "scopes"]


def scopes() -> list[MarketScope]:
    return [MarketScope(name=m.store, centra_market=m.centra_market, currency=m.currency,
                        customer=m.customer, timezone=m.timezone) for m in MARKETS]


@contextmanager
def bluecherry_sandbox(seed: int = 1) -> Iterator[tuple[BlueCherryState, str]]:
    """A BlueCherry sandbox on 127.0.0.1 (its state, its API base URL), stopped on exit."""
    app = create_app(seed=seed)
    with ServerThread(app) as srv:
        yield app.state.sandbox.state, f"{srv.url}/api/v1"


@contextmanager
def reconciler(store: Store, base_url: str) -> Iterator[Reconciler]:
    client = BlueCherryClient(BlueCherrySettings(base_url=base_url, page_size=1000,
                                                 api_key=SecretStr(DEFAULT_API_KEY)))
    try:
        yield Reconciler(store=store, erp=client, markets=scopes(),
                         clock=lambda: datetime.now(UTC))
    finally:
        client.close()
