"""Exceptions heal at once, and the CLI tells the truth: one real ``seamline run`` process on a
fresh store against sandboxes started by the test, driven and read through the CLI.

The configuration is the example file pointed at the sandboxes, with the Japanese shipping
option left unmapped and the order poll every ``POLL_S`` seconds. Orders are placed in Centra
before the process starts (a fresh store: nothing synced yet). The tests run in file order on
the one process: it is never restarted (its pid is checked)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import Sandboxes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")
#: The order poll of the process under test (the built-in one is every 5 minutes).
POLL_S = 10
JP_MAPPING = '"jp-standard" = "YAMT"\n'
FRESH_ORDERS = 12


def _config_text(sb: Sandboxes) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
    text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
    assert JP_MAPPING in text
    text = text.replace(JP_MAPPING, "")
    return text + f'\n[schedules.orders-poll]\ntask = "orders.poll"\nevery_s = {POLL_S}\n'


class World:
    """The sandboxes, the running process and a CLI runner."""

    def __init__(self, sb: Sandboxes, cfg: Path, env: dict[str, str], tmp: Path) -> None:
        self.sb, self.cfg, self.env, self.tmp = sb, cfg, env, tmp
        self.proc: subprocess.Popen[str] | None = None
        self.fresh: list[GeneratedOrder] = []
        self.jp: GeneratedOrder | None = None
        self.no: GeneratedOrder | None = None
        self.stderr_path = tmp / "run.stderr"

    def cli(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SEAMLINE), "-c", str(config or self.cfg), *args],
                              cwd=self.tmp, env=self.env, capture_output=True, text=True,
                              timeout=120, check=False)

    def json(self, *args: str, config: Path | None = None) -> Any:
        done = self.cli(*args, "--json", config=config)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def log(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def assert_running(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, f"seamline run exited: {self.log()[-3000:]}"


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> float:
    """Seconds until ``check()`` is truthy (AssertionError naming ``what`` after ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("heal")
    with Sandboxes(seed=23) as sb:
        cfg = tmp / "seamline.toml"
        cfg.write_text(_config_text(sb), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=f"sqlite:///{tmp / 'seamline.db'}",
                   SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key,
                   SEAMLINE_LOG_LEVEL="WARNING")
        w = World(sb, cfg, env, tmp)
        assert w.cli("db", "upgrade").returncode == 0
        skus = _skus(sb)
        # Placed before the process starts: its first poll meets them on a store that has
        # never synced BlueCherry's catalogue.
        w.fresh = [sb.place_order({"market_id": 3, "lines": [
            {"sku": skus[i], "quantity": 1 + i % 2}, {"sku": skus[i + 40], "quantity": 1}]})
            for i in range(FRESH_ORDERS)]
        w.jp = sb.place_order({"market_id": 4, "lines": [{"sku": skus[7], "quantity": 1}]})
        w.no = sb.place_order({"market_id": 6, "lines": [{"sku": skus[8], "quantity": 1}]})
        with w.stderr_path.open("w", encoding="utf-8") as err:
            w.proc = subprocess.Popen([str(SEAMLINE), "-c", str(cfg), "run", "--port", "0"],
                                      cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                      text=True)
            try:
                yield w
            finally:
                w.proc.send_signal(signal.SIGTERM)
                try:
                    w.proc.wait(timeout=30)
                finally:
                    if w.proc.poll() is None:
                        w.proc.kill()


def _skus(sb: Sandboxes) -> list[str]:
    return [i.sku for i in sb.centra.state.world.catalogue if not i.centra_only]


def _centra_only_sku(sb: Sandboxes) -> str:
    return next(i.sku for i in sb.centra.state.world.catalogue if i.centra_only)


def _posted(w: World, order: GeneratedOrder) -> bool:
    return len(w.sb.bluecherry_orders(w.sb.reference(order))) == 1


def _open(w: World, type_: str, config: Path | None = None) -> list[dict[str, Any]]:
    return list(w.json("exceptions", "list", "--type", type_, config=config))


# -- heal at once -----------------------------------------------------------------------------


def test_a_fresh_store_posts_every_order_at_its_first_attempt(world: World) -> None:
    """On a store that never synced the catalogue, the catalogue is synced before the first
    order is mapped: every order posts at its first attempt, no job retries, no warning."""
    w = world
    wait_for("the fresh orders posted", lambda: all(_posted(w, g) for g in w.fresh), 90)
    w.assert_running()
    jobs = [j for j in w.json("jobs", "list", "--limit", "1000")
            if j["task"] == "orders.post"]
    fresh = {f"order:{g.number}" for g in w.fresh}
    mine = [j for j in jobs if j["business_key"] in fresh]
    assert len(mine) == FRESH_ORDERS
    assert {j["status"] for j in mine} == {"succeeded"}
    assert [j["attempts"] for j in mine] == [1] * FRESH_ORDERS
    assert _open(w, "UNKNOWN_SKU") == []
    warnings = [ln for ln in w.log().splitlines() if "warning" in ln.lower()]
    assert warnings == []


def test_a_fixed_mapping_posts_its_orders_within_one_poll_interval_without_a_restart(
        world: World) -> None:
    """The Japanese order parks on its missing shipping option; adding the mapping to the file
    of the running process posts it within one poll interval, and the exception resolves."""
    w = world
    assert w.jp is not None
    wait_for("the JP order parked", lambda: _open(w, "MAPPING_MISSING"), 60)
    parked = {e["business_key"]: e for e in _open(w, "MAPPING_MISSING")}
    assert "mapping:shipping_option:jp-standard" in parked
    assert not _posted(w, w.jp)
    pid = w.proc.pid if w.proc else None
    text = w.cfg.read_text(encoding="utf-8")
    w.cfg.write_text(text.replace("[shipping_options]\n", "[shipping_options]\n" + JP_MAPPING),
                     encoding="utf-8")
    took = wait_for("the JP order posted after the fix", lambda: _posted(w, w.jp), POLL_S)
    w.assert_running()
    assert w.proc is not None
    assert w.proc.pid == pid
    assert took < POLL_S
    wait_for("its exception resolved", lambda: "mapping:shipping_option:jp-standard" not in {
        e["business_key"] for e in _open(w, "MAPPING_MISSING")}, POLL_S)
    story = w.json("orders", "show", str(w.jp.number))
    assert story["state"] in {"posted", "synced"}
    assert any(a["action"] == "posted" for a in story["audit"])


def test_a_daily_batch_order_with_an_unknown_sku_is_an_exception_within_one_poll(
        world: World) -> None:
    """A Swedish order (daily batch, cut-off 23:00) with a SKU BlueCherry lacks is parked on
    UNKNOWN_SKU within one poll of being placed, not at the cut-off; a clean one waits for the
    batch."""
    w = world
    bad = w.sb.place_order({"market_id": 1, "lines": [
        {"sku": _skus(w.sb)[3], "quantity": 1}, {"sku": _centra_only_sku(w.sb), "quantity": 1}]})
    good = w.sb.place_order({"market_id": 1, "lines": [{"sku": _skus(w.sb)[4], "quantity": 1}]})
    wait_for("UNKNOWN_SKU raised", lambda: _state(w, bad) == "parked", POLL_S + 5)
    assert _state(w, bad) == "parked"
    assert [e for e in _open(w, "UNKNOWN_SKU") if str(bad.number) in e["message"]]
    wait_for("the clean order filed under its batch", lambda: _state(w, good) == "batch",
             POLL_S + 5)
    assert not _posted(w, bad)
    assert not _posted(w, good)


def _state(w: World, order: GeneratedOrder) -> str | None:
    done = w.cli("orders", "show", str(order.number), "--json")
    return json.loads(done.stdout)["state"] if done.returncode == 0 else None


def test_retry_requeues_the_orders_an_exception_holds_without_a_failed_job(
        world: World) -> None:
    """``exceptions retry`` of a parked MAPPING_MISSING (no failed job behind it) queues its
    order again: it parks again (the mapping is still missing), the count goes up."""
    w = world
    (market,) = [e for e in _open(w, "MAPPING_MISSING")
                 if e["business_key"] == "mapping:market:6/NOK"]
    done = w.cli("exceptions", "retry", str(market["id"]))
    assert done.returncode == 0, done.stderr
    assert w.no is not None
    assert f"1 order(s) queued again: {w.no.number}" in done.stdout
    wait_for("parked again", lambda: [
        e for e in _open(w, "MAPPING_MISSING")
        if e["id"] == market["id"] and e["count"] > market["count"]], POLL_S)
    shown = w.cli("exceptions", "show", str(market["id"]))
    assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  cli:\S+  retried: 1 order\(s\) "
                     rf"re-queued: {w.no.number}$", shown.stdout, re.M), shown.stdout


def test_a_broken_file_is_refused_and_the_running_configuration_kept(world: World) -> None:
    """A broken file: ``config reload`` refuses it naming the key path; the running process
    keeps its configuration (a new order still posts) and raises CONFIG_INVALID, which
    resolves when the file is fixed."""
    w = world
    good = w.cfg.read_text(encoding="utf-8")
    copy = w.tmp / "good.toml"  # the CLI itself reads a valid copy meanwhile
    copy.write_text(good, encoding="utf-8")
    w.cfg.write_text(good.replace('\nmode = "realtime"', '\nmode = "sometimes"', 1),
                     encoding="utf-8")
    refused = w.cli("config", "reload")
    assert refused.returncode == 2
    assert "markets[2].mode" in refused.stderr
    assert "refused" in refused.stderr
    wait_for("CONFIG_INVALID raised", lambda: _open(w, "CONFIG_INVALID", copy), POLL_S)
    (invalid,) = _open(w, "CONFIG_INVALID", copy)
    assert invalid["owner"] == "integrator"
    assert "markets[2].mode" in invalid["message"]
    g = w.sb.place_order({"market_id": 3, "lines": [{"sku": _skus(w.sb)[5], "quantity": 1}]})
    assert w.cli("orders", "sync", config=copy).returncode == 0
    wait_for("an order posted by the running configuration", lambda: _posted(w, g), 30)
    w.assert_running()
    w.cfg.write_text(good, encoding="utf-8")
    done = w.cli("config", "reload")
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stdout
    assert _open(w, "CONFIG_INVALID") == []
    (closed,) = [e for e in w.json("exceptions", "list", "--state", "all")
                 if e["type"] == "CONFIG_INVALID"]
    assert closed["state"] == "resolved"


# -- CLI output that tells the truth -------------------------------------------------------


def test_piped_tables_keep_brackets_and_full_width(world: World) -> None:
    """Text in square brackets reaches a pipe as it is, and no line is cut to 80 columns."""
    w = world
    done = w.cli("exceptions", "list", "--state", "all")
    assert done.returncode == 0, done.stderr
    assert "add a [[markets]] entry for it" in done.stdout
    assert "add it under [shipping_options]" in done.stdout
    assert max(len(ln) for ln in done.stdout.splitlines()) > 120
    for row in w.json("exceptions", "list", "--state", "all"):
        line = next(ln for ln in done.stdout.splitlines() if ln.strip().startswith(
            f"{row['id']} "))
        assert row["message"] in line


def test_exceptions_show_prints_its_history_for_people(world: World) -> None:
    """The history is time, actor, action and note per line, details as indented key: value;
    no Python reprs."""
    w = world
    resolved = [e for e in w.json("exceptions", "list", "--state", "all")
                if e["business_key"] == "mapping:shipping_option:jp-standard"]
    assert resolved
    assert resolved[0]["state"] == "resolved"
    shown = w.cli("exceptions", "show", str(resolved[0]["id"]))
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    for repr_ in ("HistoryEntry(", "datetime.datetime(", "{'", "tzinfo"):
        assert repr_ not in out
    history = out.split("\nhistory (times in UTC)\n", 1)[1].splitlines()
    assert re.match(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  \S+  opened", history[0]), history
    assert any(re.match(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  system\S*  resolved", ln)
               for ln in history), history
    assert "details\n  kind: shipping_option\n" in out or "details\n" in out


def test_orders_show_reads_centra_live_and_labels_the_intake_snapshot(world: World) -> None:
    """``orders show`` prints Centra's order as read now (its external id included) next to the
    intake snapshot, named as such; with Centra unreachable it says so and still shows the
    snapshot. (Last: it stops the process.)"""
    w = world
    assert w.jp is not None
    assert w.proc is not None
    wait_for("the JP external id written back",
             lambda: w.sb.centra_external_ids().get(w.jp.number), 30)
    # Stopped (cleanly) first, so no poll records the change before ``show`` reads it.
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=30) == 0
    w.sb.cancel_order(w.jp.number)
    story = w.json("orders", "show", str(w.jp.number))
    assert story["centra"]["read"] == "live"
    assert story["centra"]["status"] == "CANCELLED"
    assert story["centra"]["external_id"] == story["order_no"]
    assert story["intake_snapshot"]["status"] != "CANCELLED"
    assert "external_id" not in story["intake_snapshot"]  # never part of what intake read
    assert story["intake_snapshot"]["recorded_at"]
    text = w.cli("orders", "show", str(w.jp.number)).stdout
    assert "centra (live, read now)" in text
    assert "intake snapshot (as Centra showed it when Seamline last recorded it, " in text
    offline = w.tmp / "offline.toml"
    offline.write_text(w.cfg.read_text(encoding="utf-8").replace(
        w.sb.centra_url, "http://127.0.0.1:9/graphql"), encoding="utf-8")
    down = w.cli("orders", "show", str(w.jp.number), config=offline)
    assert down.returncode == 0, down.stderr
    assert "centra (live read failed)" in down.stdout
    assert "Centra could not be reached" in down.stdout
    assert "intake snapshot" in down.stdout


# -- several processes on PostgreSQL ---------------------------------------------------------


@pytest.mark.postgres
def test_on_postgresql_a_reload_reaches_every_worker_and_the_scheduler(
        pg_url: str, tmp_path: Path) -> None:
    """Two ``seamline worker`` processes and a ``seamline scheduler`` share one PostgreSQL:
    after the mapping is added and ``seamline config reload`` run, the parked order posts within
    one poll interval, and each of the three processes has re-read its configuration."""
    with Sandboxes(seed=29) as sb:
        cfg = tmp_path / "seamline.toml"
        cfg.write_text(_config_text(sb), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=pg_url, SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, SEAMLINE_LOG_LEVEL="INFO")
        w = World(sb, cfg, env, tmp_path)
        assert w.cli("db", "upgrade").returncode == 0
        jp = sb.place_order({"market_id": 4, "lines": [{"sku": _skus(sb)[9], "quantity": 1}]})
        procs: dict[str, subprocess.Popen[str]] = {}
        logs = {name: tmp_path / f"{name}.stderr" for name in ("worker-1", "worker-2",
                                                               "scheduler")}
        try:
            for name, path in logs.items():
                with path.open("w", encoding="utf-8") as err:
                    args = ["scheduler"] if name == "scheduler" else ["worker"]
                    procs[name] = subprocess.Popen(
                        [str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp_path, env=env,
                        stdout=subprocess.DEVNULL, stderr=err, text=True)
            wait_for("the JP order parked", lambda: [
                e for e in _open(w, "MAPPING_MISSING")
                if e["business_key"] == "mapping:shipping_option:jp-standard"], 90)
            text = cfg.read_text(encoding="utf-8")
            cfg.write_text(text.replace("[shipping_options]\n",
                                        "[shipping_options]\n" + JP_MAPPING), encoding="utf-8")
            done = w.cli("config", "reload")
            assert done.returncode == 0, done.stderr
            # 1, or 0 when a process noticed the edited file first (its re-queue is deduped).
            assert re.search(r"; [01] parked order\(s\) re-queued; ", done.stdout), done.stdout
            took = wait_for("the JP order posted", lambda: _posted(w, jp), POLL_S)
            assert took < POLL_S
            wait_for("every process reloaded", lambda: all(
                "configuration reloaded" in p.read_text(encoding="utf-8")
                for p in logs.values()), POLL_S)
            assert all(p.poll() is None for p in procs.values())
            assert len(sb.bluecherry_orders(sb.reference(jp))) == 1
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=30)
                finally:
                    if p.poll() is None:
                        p.kill()
