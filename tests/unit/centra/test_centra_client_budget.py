"""The Centra client with the budget governor (httpx.MockTransport): it reads ``rateLimits``
before its first call and follows it, and a 429 holds back every client on the same budget."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from seamline.adapters.centra.budget import BudgetGovernor, MemoryBudgetBoard
from seamline.adapters.centra.client import CentraClient, InlineRetry
from seamline.adapters.centra.limiter import MemoryBucketStore
from seamline.config import BudgetSettings, CentraSettings
from seamline.exceptions import RateLimited

ONCE = InlineRetry(attempts=1, max_inline_wait_s=0.0)
SETTINGS = CentraSettings(base_url="http://centra.test/graphql", token=SecretStr("tok"))


def rate_limits(mutations_10s: int, remaining_10s: int) -> dict[str, Any]:
    def row(kind: str, window: str, quota: int, remaining: int) -> dict[str, Any]:
        return {"type": kind, "intervalSeconds": window, "quota": quota,
                "usedQuota": quota - remaining, "remainingQuota": remaining}

    return {"rateLimits": [
        row("REQUEST_COUNT", "TEN_SECONDS", 60, 60), row("REQUEST_COUNT", "ONE_HOUR", 5000, 5000),
        row("MUTATION_COUNT", "TEN_SECONDS", mutations_10s, remaining_10s),
        row("MUTATION_COUNT", "ONE_HOUR", 1800, 1800),
        row("QUERY_COMPLEXITY", "TEN_SECONDS", 250_000, 250_000),
        row("QUERY_COMPLEXITY", "ONE_HOUR", 30_000_000, 30_000_000)]}


def answer(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, content=json.dumps({"data": body}).encode())


class Clock:
    t = 3_000_000.0

    def __call__(self) -> float:
        return self.t


def clients(handler: Any, n: int = 1) -> tuple[list[CentraClient], list[str], Clock]:
    seen: list[str] = []
    clock = Clock()
    store, board = MemoryBucketStore(), MemoryBudgetBoard()

    def record(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        seen.append("rateLimits" if "rateLimits" in query else
                    "setIdConversions" if "setIdConversions" in query else "other")
        result: httpx.Response = handler(seen[-1])
        return result

    out = []
    for _ in range(n):
        gov = BudgetGovernor(SETTINGS.rate_limits, store, board,
                             settings=BudgetSettings(headroom=1.0), max_wait_s=0.0,
                             time_fn=clock, sleep=lambda s: None)
        out.append(CentraClient(SETTINGS, http=httpx.Client(transport=httpx.MockTransport(record)),
                                limiter=gov, retry=ONCE))
    return out, seen, clock


def test_the_first_call_reads_rate_limits_and_the_budget_follows_them() -> None:
    """Centra says 2 of a lowered ten-second quota of 3 remain: two writes go, the third
    waits (raised, since this client may not wait) without reaching Centra."""

    def handler(op: str) -> httpx.Response:
        if op == "rateLimits":
            return answer(rate_limits(3, 2))
        return answer({"setIdConversions": {"userErrors": []}})

    [client], seen, _ = clients(handler)
    client.set_external_ids([(1, "SO1")])
    client.set_external_ids([(2, "SO2")])
    with pytest.raises(RateLimited):
        client.set_external_ids([(3, "SO3")])
    assert seen == ["rateLimits", "setIdConversions", "setIdConversions"]


def test_a_429_to_one_client_holds_back_the_other_then_both_recalibrate() -> None:
    answers = {"throttle": True}

    def handler(op: str) -> httpx.Response:
        if op == "rateLimits":
            return answer(rate_limits(20, 20))
        if answers.pop("throttle", False):
            return httpx.Response(429, headers={"Retry-After": "6"})
        return answer({"setIdConversions": {"userErrors": []}})

    (one, other), seen, clock = clients(handler, 2)
    with pytest.raises(RateLimited):
        one.set_external_ids([(1, "SO1")])
    with pytest.raises(RateLimited, match="429") as err:
        other.set_external_ids([(2, "SO2")])
    assert err.value.retry_after == pytest.approx(6.0)
    assert seen == ["rateLimits", "setIdConversions"]  # the other never reached Centra
    clock.t += 6.5
    other.set_external_ids([(2, "SO2")])
    assert seen[2:] == ["rateLimits", "setIdConversions"]  # recalibrated after the 429
