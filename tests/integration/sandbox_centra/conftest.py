"""The Centra sandbox over real HTTP on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from seamline_sandbox.centra.app import CentraSandbox, create_app
from seamline_sandbox.serve import ServerThread

TOKEN = "sandbox-centra-token"


class Gql:
    """A tiny GraphQL client for the tests."""

    def __init__(self, sandbox: CentraSandbox, url: str) -> None:
        self.sandbox = sandbox
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def post(self, query: str, variables: dict[str, Any] | None = None, *,
             token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                              headers=headers)

    def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        r = self.post(query, variables)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body
        return body["data"]


@pytest.fixture
def gql() -> Iterator[Gql]:
    sandbox = create_app(seed=3, orders=60)
    with ServerThread(sandbox) as server:
        client = Gql(sandbox, server.url)
        yield client
        client.http.close()
