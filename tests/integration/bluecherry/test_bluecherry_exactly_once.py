"""Exactly once over real HTTP: commit-then-timeout on every create, and still one BlueCherry
order per Centra order (counted over the whole sandbox by external_reference)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import stamina
from bluecherry_fixtures import make_order
from pydantic import SecretStr

from seamline.adapters.bluecherry import BlueCherryClient
from seamline.config import BlueCherrySettings, load_settings
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import AmbiguousWrite, RetriableError
from seamline.services.preflight import check_online
from seamline.services.submit import SubmitOutcome, submit_sales_order
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.serve import ServerThread

ORDERS = 1000
WORKERS = 8
#: The client gives up on an answer after this long; the sandbox holds the committed create's
#: answer for longer, so every create times out after it was applied.
CLIENT_TIMEOUT_S = 0.15
HOLD_S = 1.0


@pytest.fixture
def sandbox() -> Iterator[ServerThread]:
    with ServerThread(create_app(seed=1)) as server:
        yield server


def _post_like_the_queue(client: BlueCherryClient, order: SalesOrder) -> tuple[SubmitOutcome,
                                                                                int]:
    """Retry with the same frozen payload until it is in; after any failed attempt the next
    one may have reached BlueCherry (the queue's rule)."""
    may_have_reached = False
    for attempt in range(1, 30):
        try:
            return submit_sales_order(client, order, may_have_reached=may_have_reached), attempt
        except RetriableError:
            may_have_reached = True
    raise AssertionError(f"{order.external_reference} never got in")


def test_a_thousand_orders_under_commit_then_timeout_are_a_thousand_orders(
    sandbox: ServerThread,
) -> None:
    """Every create is applied and its answer lost; submit + retries still post each once."""
    control = httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=30)
    control.post("/faults", json={"faults": [{
        "kind": "commit_then_drop", "operation": "create_order", "count": ORDERS * 3,
        "seconds": HOLD_S}]}).raise_for_status()
    client = BlueCherryClient(BlueCherrySettings(
        base_url=f"{sandbox.url}/api/v1", api_key=SecretStr(DEFAULT_API_KEY),
        timeout_s=CLIENT_TIMEOUT_S))
    orders = [make_order(lines=1 + i % 3, quantity=1 + i % 2) for i in range(ORDERS)]
    started = time.monotonic()
    with stamina.set_testing(True, attempts=2), ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda o: _post_like_the_queue(client, o), orders))
    elapsed = time.monotonic() - started
    client.close()

    hows = {how: sum(1 for out, _ in results if out.how == how)
            for how in ("created", "found-after-ambiguous", "duplicate-matching")}
    assert hows["created"] == 0  # no create answer ever arrived
    assert hows["found-after-ambiguous"] + hows["duplicate-matching"] == ORDERS
    counts = control.get("/orders").json()["external_reference_counts"]
    ours = {o.external_reference for o in orders}
    assert {ref: n for ref, n in counts.items() if ref in ours} == dict.fromkeys(ours, 1)
    assert len(counts) == ORDERS
    assert len({out.order_no for out, _ in results}) == ORDERS
    print(f"\n{ORDERS} orders, commit-then-timeout on every create: {elapsed:.1f}s, "
          f"attempts max {max(a for _, a in results)}, {hows}")


def test_a_create_whose_answer_is_lost_and_not_applied_is_retried_later(
    sandbox: ServerThread,
) -> None:
    """A plain timeout (nothing applied) is re-raised; the next attempt posts it once."""
    control = httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=30)
    control.post("/faults", json={"kind": "timeout", "operation": "create_order",
                                  "seconds": HOLD_S}).raise_for_status()
    client = BlueCherryClient(BlueCherrySettings(
        base_url=f"{sandbox.url}/api/v1", api_key=SecretStr(DEFAULT_API_KEY),
        timeout_s=CLIENT_TIMEOUT_S * 2))
    order = make_order()
    with stamina.set_testing(True, attempts=2):
        with pytest.raises(AmbiguousWrite):
            submit_sales_order(client, order, may_have_reached=False)
        out = submit_sales_order(client, order, may_have_reached=True)
    assert out.how == "created"
    counts = control.get("/orders", params={"external_reference": order.external_reference})
    assert counts.json()["count"] == 1


def test_the_online_preflight_passes_for_the_example_against_the_sandbox(
    sandbox: ServerThread, tmp_path: Path,
) -> None:
    """examples/seamline.toml checks clean against the sandbox; a wrong key is one line."""
    example = Path(__file__).resolve().parents[3] / "examples" / "seamline.toml"
    env = {"SEAMLINE_BLUECHERRY_API_KEY": DEFAULT_API_KEY}
    settings = load_settings(example, env=env)
    bc = {**settings.bluecherry.model_dump(exclude={"api_key"}),
          "base_url": f"{sandbox.url}/api/v1"}
    settings = load_settings(example, env=env, overrides={"bluecherry": bc})
    assert check_online(settings, centra_check=lambda s: []) == []
    wrong = load_settings(example, env={"SEAMLINE_BLUECHERRY_API_KEY": "nope"},
                          overrides={"bluecherry": bc})
    problems = check_online(wrong, centra_check=lambda s: [])
    assert len(problems) == 1
    assert problems[0].startswith("SEAMLINE_BLUECHERRY_API_KEY: BlueCherry refused the key")
    assert "nope" not in problems[0]
