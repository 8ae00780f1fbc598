"""How fast a fixed mapping heals: file saved → every parked order posted, no restart.

    python benchmarks/heal_latency.py [--orders 1 200] [--database sqlite|postgresql]

Both sandboxes run in this process (``seamline_sandbox.harness.Sandboxes``, rate limits lifted);
Seamline runs as a real ``seamline run`` process on a fresh store, configured by the example
file pointed at the sandboxes with the Japanese shipping option unmapped. N Japanese orders are
placed before it starts; once all N are parked on their one ``MAPPING_MISSING``, the mapping is
added to the file (nothing else is done: no ``config reload``, no restart) and the clock starts.
Figures: seconds from the save to the first and to the last of the N orders in BlueCherry
(counted by ``external_reference`` over the whole BlueCherry sandbox: each exactly once), and
orders/s over the heal. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")
JP_MAPPING = '"jp-standard" = "YAMT"\n'
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_database() -> str | None:
    import sqlalchemy as sa  # noqa: PLC0415

    name = f"seamline_bench_heal_{os.getpid()}"
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no PostgreSQL here: say so and skip
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipped")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    import sqlalchemy as sa  # noqa: PLC0415

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    admin.dispose()


def run(n: int, database: str) -> dict[str, Any] | None:
    from seamline_sandbox.harness import Sandboxes  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp_s, Sandboxes(seed=5, lift_rate_limits=True) as sb:
        tmp = Path(tmp_s)
        url = f"sqlite:///{tmp / 'seamline.db'}" if database == "sqlite" else _pg_database()
        if url is None:
            return None
        text = EXAMPLE.read_text(encoding="utf-8")
        text = text.replace('"http://127.0.0.1:8701/graphql"', f'"{sb.centra_url}"')
        text = text.replace('"http://127.0.0.1:8702/api/v1"', f'"{sb.bluecherry_url}"')
        text = text.replace(JP_MAPPING, "")
        cfg = tmp / "seamline.toml"
        cfg.write_text(text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
        env.update(SEAMLINE_DATABASE_URL=url, SEAMLINE_CENTRA_TOKEN=sb.centra_token,
                   SEAMLINE_BLUECHERRY_API_KEY=sb.bluecherry_key, SEAMLINE_LOG_LEVEL="ERROR")

        def cli(*args: str) -> str:
            done = subprocess.run([str(SEAMLINE), "-c", str(cfg), *args], cwd=tmp, env=env,
                                  capture_output=True, text=True, timeout=300, check=True)
            return done.stdout

        cli("db", "upgrade")
        skus = [i.sku for i in sb.centra.state.world.catalogue if not i.centra_only]
        refs = [sb.reference(sb.place_order({"market_id": 4, "lines": [
            {"sku": skus[i % len(skus)], "quantity": 1}]})) for i in range(n)]
        proc = subprocess.Popen([str(SEAMLINE), "-c", str(cfg), "run", "--port", "0"],
                                cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            held = 0
            while held < n:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {held} of {n} orders parked")
                time.sleep(1.0)
                found = json.loads(cli("exceptions", "list", "--type", "MAPPING_MISSING",
                                       "--json"))
                if found:
                    shown = json.loads(cli("exceptions", "show", str(found[0]["id"]),
                                           "--json"))
                    held = len(shown["orders"])
            cfg.write_text(text.replace("[shipping_options]\n",
                                        "[shipping_options]\n" + JP_MAPPING), encoding="utf-8")
            start = time.monotonic()
            first: float | None = None
            while True:
                counts = sb.bluecherry_reference_counts()
                posted = sum(1 for r in refs if counts.get(r))
                if posted and first is None:
                    first = time.monotonic() - start
                if posted == n:
                    break
                if time.monotonic() - start > 600:
                    raise TimeoutError(f"only {posted} of {n} orders posted")
                time.sleep(0.1)
            last = time.monotonic() - start
            assert all(counts[r] == 1 for r in refs), "an order posted twice"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=600)  # it finishes the job it runs (a stock sync, say)
            if database == "postgresql":
                _drop(url)
    return {"orders": n, "database": database, "first_s": round(first or 0.0, 2),
            "last_s": round(last, 2), "orders_per_s": round(n / last, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    results = [r for n in args.orders if (r := run(n, args.database)) is not None]
    print(f"{'orders':>8} {'db':>10} {'first (s)':>10} {'last (s)':>10} {'orders/s':>10}")
    for r in results:
        print(f"{r['orders']:>8} {r['database']:>10} {r['first_s']:>10} {r['last_s']:>10} "
              f"{r['orders_per_s']:>10}")
    print(json.dumps({"benchmark": "heal_latency", "python": platform.python_version(),
                      "results": results}))


if __name__ == "__main__":
    main()
