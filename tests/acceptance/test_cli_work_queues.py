"""People work through exceptions and jobs from the CLI: list, show, retry, skip, resolve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seamline.adapters.store import Database
from seamline.adapters.store.exceptions import raise_exception
from seamline.entrypoints.cli import build_app
from seamline.entrypoints.cli._errors import report
from seamline.queue import JobQueue

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
FIELDS = ["id", "type", "owner", "severity", "business_key", "state", "count", "message",
          "first_seen", "last_seen", "attempts"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, Database]:
    url = f"sqlite:///{tmp_path / 'seamline.db'}"
    monkeypatch.setenv("SEAMLINE_DATABASE_URL", url)
    monkeypatch.setenv("SEAMLINE_CONFIG", str(EXAMPLE))
    db = Database(url)
    db.upgrade()
    with db.begin() as conn:
        for key in ("market:6", "market:6", "shipping:pickup-point"):
            raise_exception(conn, type="MAPPING_MISSING", owner="ecommerce", business_key=key,
                            message=f"no mapping for {key}")
        raise_exception(conn, type="TOTAL_MISMATCH", owner="finance",
                        business_key="centra:1:1001", message="grand_total differs")
        JobQueue(db).enqueue(conn, "orders.post", {"order": "1001"}, queue="orders",
                             business_key="centra:1:1001")
    yield CliRunner(), db
    db.dispose()


def invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    """Run a command in-process; a Seamline error is reported exactly as the console script does."""
    result = runner.invoke(build_app(plugins=False), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return report(result.exception), result.output
    return result.exit_code, result.output


def test_exceptions_list_json_is_an_array_of_the_documented_fields(cli: tuple) -> None:
    """Each object has exactly the documented keys; a repeat counts instead of duplicating."""
    runner, _ = cli
    code, out = invoke(runner, "exceptions", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [list(r) for r in rows] == [FIELDS] * 3
    by_key = {r["business_key"]: r for r in rows}
    assert by_key["market:6"]["count"] == 2
    assert by_key["market:6"]["state"] == "open"


def test_exceptions_can_be_filtered_by_owner_and_type(cli: tuple) -> None:
    """--owner finance shows finance's only; --type narrows by exception type."""
    runner, _ = cli
    _, out = invoke(runner, "exceptions", "list", "--owner", "finance", "--json")
    assert [r["type"] for r in json.loads(out)] == ["TOTAL_MISMATCH"]
    _, out = invoke(runner, "exceptions", "list", "--type", "MAPPING_MISSING", "--json")
    assert len(json.loads(out)) == 2


def test_an_unknown_owner_is_refused_with_the_list_of_owners(cli: tuple) -> None:
    """A typo in --owner is a configuration-style error naming the valid owners."""
    runner, _ = cli
    code, _ = invoke(runner, "exceptions", "list", "--owner", "finanse")
    assert code == 2


def test_skip_and_resolve_close_exceptions_and_keep_them_in_the_history(cli: tuple) -> None:
    """Closed exceptions leave the open list and show with their new state and note."""
    runner, _ = cli
    _, out = invoke(runner, "exceptions", "list", "--json")
    ids = {r["business_key"]: r["id"] for r in json.loads(out)}
    assert invoke(runner, "exceptions", "skip", str(ids["shipping:pickup-point"]),
                  "--note", "test order")[0] == 0
    assert invoke(runner, "exceptions", "resolve", str(ids["centra:1:1001"]))[0] == 0
    _, out = invoke(runner, "exceptions", "list", "--json")
    assert [r["business_key"] for r in json.loads(out)] == ["market:6"]
    _, out = invoke(runner, "exceptions", "show", str(ids["shipping:pickup-point"]), "--json")
    shown = json.loads(out)
    assert shown["state"] == "skipped"
    assert shown["history"][-1]["note"] == "test order"
    _, out = invoke(runner, "exceptions", "list", "--state", "all", "--json")
    assert len(json.loads(out)) == 3


def test_retrying_an_exception_without_a_job_says_what_to_do_instead(cli: tuple) -> None:
    """No failed job behind it: the message points at resolve, and the exit code is 1."""
    runner, _ = cli
    _, out = invoke(runner, "exceptions", "list", "--owner", "finance", "--json")
    code, _ = invoke(runner, "exceptions", "retry", str(json.loads(out)[0]["id"]))
    assert code == 1


def test_a_missing_exception_or_job_is_a_one_line_error(cli: tuple) -> None:
    """Asking for an id that does not exist exits 1 with a pointer to the list command."""
    runner, _ = cli
    assert invoke(runner, "exceptions", "show", "9999")[0] == 1
    assert invoke(runner, "jobs", "show", "9999")[0] == 1


def test_jobs_list_and_show_describe_the_queued_job(cli: tuple) -> None:
    """The enqueued job is listed with its queue, task and business key."""
    runner, _ = cli
    code, out = invoke(runner, "jobs", "list", "--json")
    assert code == 0
    (job,) = json.loads(out)
    assert (job["queue"], job["task"], job["status"], job["business_key"]) == (
        "orders", "orders.post", "todo", "centra:1:1001")
    code, out = invoke(runner, "jobs", "show", str(job["id"]), "--json")
    assert json.loads(out)["args"] == {"order": "1001"}
    code, out = invoke(runner, "jobs", "list")
    assert code == 0
    assert "todo" in out


def test_retrying_a_job_that_has_not_failed_is_refused(cli: tuple) -> None:
    """Only failed or cancelled jobs can be retried; a waiting job is left alone."""
    runner, _ = cli
    _, out = invoke(runner, "jobs", "list", "--json")
    code, _ = invoke(runner, "jobs", "retry", str(json.loads(out)[0]["id"]))
    assert code == 1


def test_bracketed_text_in_data_is_printed_as_it_is_at_full_width(cli: tuple) -> None:
    """Text in square brackets is data, never Rich markup, in tables and in ``show``; a long
    message is not cut or wrapped at 80 columns when the output is not a terminal."""
    runner, db = cli
    texts = ("add a [] entry", "map it under [shipping_options]", "[bold]not bold[/]",
             "ends in a backslash \\")
    long_tail = " then check it in BlueCherry" * 8
    with db.begin() as conn:
        ids = [raise_exception(conn, type="UNKNOWN_SKU", owner="ecommerce",
                               business_key=f"sku:T{i}", message=text + long_tail,
                               details={"hint": text, "codes": ["[E1]", "E2"]})
               for i, text in enumerate(texts)]
    code, out = invoke(runner, "exceptions", "list", "--type", "UNKNOWN_SKU")
    assert code == 0
    lines = out.splitlines()
    for text in texts:
        assert any(text + long_tail in ln for ln in lines), (text, out)
    assert max(len(ln) for ln in lines) > 200
    code, out = invoke(runner, "exceptions", "show", str(ids[1]))
    assert code == 0
    assert "map it under [shipping_options]" in out
    assert "details\n  hint: map it under [shipping_options]\n  codes:\n    - [E1]\n" in out
    assert "\nhistory (times in UTC)\n  " in out
    assert "HistoryEntry(" not in out
