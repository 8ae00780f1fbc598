"""The dashboard service on the in-memory store: what the overview says about flows, systems
and the configuration, and the reconciliation provider interface."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from seamline.config import Settings, load_settings
from seamline.domain.ledger import OrderState
from seamline.entrypoints.web.auth import hash_password
from seamline.exceptions import ConfigError
from seamline.queue.circuit import SystemState
from seamline.services.dashboard import DashboardService, ReportRef
from seamline.services.exceptions import ExceptionService
from seamline.testing.dashboard import InMemoryDashboardReads
from seamline.testing.store import InMemoryStore

NOW = datetime(2026, 6, 1, 21, 40, 5, 999999, tzinfo=UTC)


def _service(store: InMemoryStore, **web: object) -> DashboardService:
    settings = Settings.model_validate({"web": {"display_timezone": "Europe/Stockholm",
                                                **web}})
    return DashboardService(InMemoryDashboardReads(store), store,
                            ExceptionService(store, clock=lambda: NOW), settings,
                            clock=lambda: NOW)


def test_orders_waiting_for_the_daily_batch_are_backlog_shown_as_waiting() -> None:
    """34 orders wait for the cut-off: the order flow's backlog says so, not 'succeeded'."""
    store = InMemoryStore(clock=lambda: NOW)
    with store.begin() as uow:
        for n in range(34):
            uow.orders.save(5000 + n, state=OrderState.BATCH, data={}, now=NOW)
        for n in range(60):
            uow.orders.save(6000 + n, state=OrderState.SYNCED, data={}, now=NOW)
    flows = {f.name: f for f in _service(store).overview()["flows"]}
    orders = flows["orders"]
    assert orders.backlog == 34
    assert [(label, n) for label, n, _ in orders.waiting] == [
        ("waiting for the daily batch", 34)]


def test_a_system_whose_circuit_is_open_is_shown_down_with_its_next_probe() -> None:
    store = InMemoryStore(clock=lambda: NOW)
    down = SystemState("bluecherry", failures=9, failing_since=NOW - timedelta(minutes=3),
                       down_since=NOW - timedelta(minutes=2), probe_at=NOW + timedelta(
                           seconds=20), last_error="HTTP 503 from BlueCherry")
    with store.begin() as uow:
        uow.cursors.set("outage:bluecherry", down.to_json())
        uow.cursors.set("health:centra", json.dumps({"ok_at": (NOW - timedelta(
            seconds=30)).isoformat()}))
        uow.cursors.set("centra.orders.updated_at", NOW.isoformat())
    overview = _service(store).overview()
    systems = {s.name: s for s in overview["systems"]}
    assert systems["bluecherry"].reachable == "down"
    assert systems["bluecherry"].circuit.startswith("open: down since 2026-06-01 23:38:05 CEST")
    assert "next probe 2026-06-01 23:40:25 CEST" in systems["bluecherry"].circuit
    assert systems["bluecherry"].last_error == "HTTP 503 from BlueCherry"
    assert systems["centra"].ok
    assert systems["centra"].circuit == "closed"
    assert overview["last_poll"] == "2026-06-01 23:40:05 CEST"


def test_the_configuration_view_hides_every_secret() -> None:
    store = InMemoryStore(clock=lambda: NOW)
    settings = Settings.model_validate({
        "centra": {"token": "centra-token-value"},
        "bluecherry": {"api_key": "bluecherry-key-value"},
        "web": {"session_secret": "session-secret-value",
                "users": [{"name": "anna", "role": "admin",
                           "password_hash": hash_password("x" * 12, n=2**10)}]}})
    service = DashboardService(InMemoryDashboardReads(store), store, ExceptionService(store),
                               settings)
    text = service.configuration()
    for secret in ("centra-token-value", "bluecherry-key-value", "session-secret-value",
                   "scrypt$"):
        assert secret not in text
    shown = json.loads(text)
    assert shown["web"]["users"][0] == {"name": "anna", "role": "admin",
                                        "password_hash": "***"}
    assert shown["centra"]["token"] == "***"


class Reports:
    def list_reports(self) -> Sequence[ReportRef]:
        return [ReportRef(date(2026, 6, 1), "SE", "3 discrepancies")]

    def render_html(self, day: date, market: str) -> str | None:
        return "<table><tr><td>ok</td></tr></table>" if (day, market) == (
            date(2026, 6, 1), "SE") else None


def test_a_reconciliation_provider_lists_and_renders_its_reports() -> None:
    store = InMemoryStore(clock=lambda: NOW)
    plain = _service(store)
    assert list(plain.reports()) == []
    assert plain.report(date(2026, 6, 1), "SE") is None
    service = DashboardService(InMemoryDashboardReads(store), store, ExceptionService(store),
                               Settings(), reconciliation=Reports())
    assert [r.summary for r in service.reports()] == ["3 discrepancies"]
    assert service.report(date(2026, 6, 1), "SE") == "<table><tr><td>ok</td></tr></table>"


def test_web_users_need_a_real_hash_a_known_role_and_unique_names() -> None:
    good = hash_password("x" * 12, n=2**10)
    with pytest.raises(ValidationError, match="seamline web hash-password"):
        Settings.model_validate({"web": {"users": [{"name": "a", "password_hash": "hunter2"}]}})
    with pytest.raises(ValidationError, match="role"):
        Settings.model_validate({"web": {"users": [{"name": "a", "role": "root",
                                                    "password_hash": good}]}})
    with pytest.raises(ValidationError, match="more than once"):
        Settings.model_validate({"web": {"users": [{"name": "a", "password_hash": good}] * 2}})
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings.model_validate({"web": {"display_timezone": "Mars/Olympus"}})
    assert Settings.model_validate({"web": {"users": [{"name": "a", "password_hash": good}]}}
                                   ).web.users[0].role == "viewer"


def test_the_session_secret_comes_from_the_environment_never_the_file(tmp_path: Path) -> None:
    config = tmp_path / "seamline.toml"
    config.write_text('[web]\nport = 8700\n', encoding="utf-8")
    settings = load_settings(config, env={"SEAMLINE_WEB_SESSION_SECRET": "from-the-env"})
    assert settings.web.session_secret is not None
    assert settings.web.session_secret.get_secret_value() == "from-the-env"
    assert "from-the-env" not in repr(settings.web)
    config.write_text('[web]\nsession_secret = "in-the-file"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(config, env={})
    assert any("web.session_secret: secrets do not belong in the file" in p
               for p in refused.value.problems)
