"""A BlueCherry sandbox served over real HTTP for the module; state reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.bluecherry.web import SandboxRuntime
from seamline_sandbox.serve import ServerThread


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    app = create_app(seed=1, hold_seconds=2.0, max_body_bytes=200_000)
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture
def runtime(server: ServerThread) -> SandboxRuntime:
    rt: SandboxRuntime = server.config.app.state.sandbox
    return rt


@pytest.fixture
def control(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/_sandbox", timeout=10) as c:
        c.post("/reset", json={}).raise_for_status()
        yield c


@pytest.fixture
def api(server: ServerThread, control: httpx.Client) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=10,
                      headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}) as c:
        yield c
