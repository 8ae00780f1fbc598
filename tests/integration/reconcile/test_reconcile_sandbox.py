"""The reconciliation over real HTTP against the BlueCherry sandbox and a real SQLite store:
every planted difference is found and classified, nothing else is reported, totals tie out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.queue import JobQueue
from seamline.services.reconcile import Report
from seamline.services.reconcile.render import render_csv, render_html, render_json
from seamline.services.reconcile.reports import ReconcileReports
from seamline_sandbox.reconcile_run import bluecherry_sandbox, reconciler
from seamline_sandbox.reconcile_seed import PLANTS, Planted, seed_day

DAY = date(2026, 11, 2)


def _found(reports: list[Report]) -> set[tuple[str, str, str, str]]:
    return {(r.day.isoformat(), r.market, d.kind.value, d.order or d.reference)
            for r in reports for d in r.rows}


def _ties_out(reports: list[Report]) -> None:
    for r in reports:
        assert r.totals.ties_out(r.rows)
        order_rows = [d for d in r.rows if d.kind.value in (
            "missing_in_bluecherry", "total_mismatch", "currency_rounding")]
        # Centra's day total minus BlueCherry's is exactly what the order rows explain
        assert r.totals.centra_total - r.totals.bluecherry_total == sum(
            (d.difference for d in order_rows), start=type(r.totals.centra_total)(0))


@pytest.fixture
def store(sqlite_url: str) -> SqlStore:
    db = Database(sqlite_url)
    db.upgrade()
    return SqlStore(db, JobQueue(db))


def test_a_day_with_one_of_each_planted_difference_reports_exactly_those(
        store: SqlStore) -> None:
    with bluecherry_sandbox() as (bc, url):
        planted = seed_day(bc, store, day=DAY, n=400, first_number=1000,
                           plant=dict.fromkeys(PLANTS, 1))
        seed_day(bc, store, day=DAY + timedelta(days=1), n=40, first_number=5000)
        with reconciler(store, url) as rec:
            reports = rec.run(DAY)
            again = rec.run(DAY)
    assert len(planted.expected) == len(PLANTS)
    assert _found(reports) == planted.expected
    _ties_out(reports)
    assert sum(r.totals.orders for r in reports) == 400
    assert {r.currency for r in reports} == {"SEK", "EUR", "JPY", "USD"}
    mismatch = next(d for r in reports for d in r.rows if d.kind.value == "total_mismatch")
    assert mismatch.component == "lines, tax"  # a price edit rescales the line's tax
    assert "user:anna.finance" in mismatch.note
    assert render_csv(again) == render_csv(reports)
    assert [r.to_dict()["rows"] for r in again] == [r.to_dict()["rows"] for r in reports]
    assert '"kind": "invoiced_not_paid"' in render_json(reports)
    html = render_html(reports)
    assert "missing_in_bluecherry" in html
    assert "JPY" in html


def test_a_clean_day_reports_nothing_and_its_summary_is_kept(store: SqlStore) -> None:
    with bluecherry_sandbox() as (bc, url):
        seed_day(bc, store, day=DAY, n=120, first_number=1)
        with reconciler(store, url) as rec:
            reports = rec.run(DAY)
            kept = rec.history()
    assert [d for r in reports for d in r.rows] == []
    assert all(r.totals.centra_total == r.totals.bluecherry_total for r in reports)
    assert {(k["day"], k["market"]) for k in kept} == {(DAY.isoformat(), m)
                                                      for m in ("SE", "DE", "JP", "US")}


@pytest.mark.slow
def test_a_seeded_month_finds_every_planted_difference_and_nothing_else(
        store: SqlStore) -> None:
    """≥ 20,000 orders over 30 days, four currencies (JPY without decimals), partial shipments,
    refunds with credit memos, hand edits in BlueCherry, broken postings."""
    start = date(2026, 11, 1)
    planted = Planted()
    with bluecherry_sandbox() as (bc, url):
        for i in range(30):
            seed_day(bc, store, day=start + timedelta(days=i), n=680, first_number=100_000 + i
                     * 1000, plant=dict.fromkeys(PLANTS, 1 if i % 3 == 0 else 0),
                     planted=planted)
        with reconciler(store, url) as rec:
            reports = rec.run_days([start + timedelta(days=i) for i in range(30)])
            day_by_day = [r for i in (0, 13) for r in rec.run(start + timedelta(days=i))]
    assert planted.orders >= 20_000
    assert len(planted.expected) == 10 * len(PLANTS)
    assert _found(reports) == planted.expected
    _ties_out(reports)
    # one day on its own (the invoices feed read from where that day starts) says the same
    same = {(r.day, r.market): r.rows for r in reports}
    assert all(r.rows == same[(r.day, r.market)] for r in day_by_day)


def test_the_daily_run_reconciles_each_market_once_after_its_local_time_and_alerts_finance(
        store: SqlStore) -> None:
    """At 07:00 UTC the European and Japanese mornings have passed 06:00, New York's has not;
    a day with differences opens one exception for finance per market, a second tick does
    nothing."""
    with bluecherry_sandbox() as (bc, url):
        seed_day(bc, store, day=DAY, n=200, first_number=1,
                 plant={"missing_in_bluecherry": 1, "invoiced_not_paid": 1})
        with reconciler(store, url) as rec:
            rec.clock = lambda: datetime.combine(DAY + timedelta(days=1), time(7), tzinfo=UTC)
            made = rec.daily(time(6))
            again = rec.daily(time(6))
    assert sorted(r.market for r in made) == ["DE", "JP", "SE"]
    assert again == []
    with store.read() as uow:
        found = uow.exceptions.find(owner="finance")
    flagged = {r.key for r in made if r.rows}
    assert flagged
    assert {e.business_key for e in found} == {f"reconcile:{k}" for k in flagged}
    assert all(e.type == "RECONCILIATION_DIFFERENCES" for e in found)


def test_the_dashboard_lists_the_kept_reports_and_shows_one_with_its_differences(
        store: SqlStore) -> None:
    """The Reconciliation page's provider: the kept days per market with a one-line summary;
    opening one re-runs it and gives its sections (escaped, no page of its own)."""
    with bluecherry_sandbox() as (bc, url):
        planted = seed_day(bc, store, day=DAY, n=200, first_number=1,
                           plant={"missing_in_bluecherry": 1})
        with reconciler(store, url) as rec:
            rec.run(DAY)
            reports = ReconcileReports(rec)
            refs = reports.list_reports()
            (_, market, _, order), = planted.expected
            shown = reports.render_html(DAY, market)
            unknown = reports.render_html(DAY, "nowhere")
    assert {(r.day, r.market) for r in refs} >= {(DAY, market)}
    mine = next(r for r in refs if r.market == market)
    assert "1 difference(s)" in mine.summary
    assert shown is not None
    assert "missing_in_bluecherry" in shown
    assert order in shown
    assert "<html" not in shown
    assert "<style" not in shown
    assert unknown is None
