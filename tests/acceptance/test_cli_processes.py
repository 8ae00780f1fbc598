"""The long-running commands start against a fresh database and stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "seamline.toml"
SEAMLINE = Path(sys.executable).with_name("seamline")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env["SEAMLINE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'seamline.db'}"
    # Credentials are required to start (nothing answers at the example's URLs: the jobs wait).
    env["SEAMLINE_CENTRA_TOKEN"] = "tok-test"
    env["SEAMLINE_BLUECHERRY_API_KEY"] = "key-test"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = _env(tmp_path)
    subprocess.run([str(SEAMLINE), "-c", str(EXAMPLE), "db", "upgrade"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=60)
    return subprocess.Popen([str(SEAMLINE), "-c", str(EXAMPLE), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float = 60.0) -> str:
    """Read stderr until a line holds ``text`` (the lines read are returned)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"exited {proc.wait()} before {text!r}: {''.join(seen)}")
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} within {timeout} s: {''.join(seen)}")


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


def test_a_worker_stops_with_exit_0_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM sets the stop event; the worker releases what it holds and exits 0."""
    proc = _start(tmp_path, "worker", "--queues", "orders,default", "--concurrency", "2")
    assert proc.stderr is not None
    started = [_wait_for_line(proc, "worker started")]  # its signal handlers are in place
    code, _out, err = _stop(proc)
    err = "".join(started) + err
    assert code == 0, err
    assert "Traceback" not in err
    assert "stopping" in err


def test_run_serves_the_dashboard_and_stops_with_exit_0_on_sigterm(tmp_path: Path) -> None:
    """`seamline run` prints the dashboard URL, answers /healthz and the dashboard, and exits 0
    on SIGTERM."""
    port = _free_port()
    proc = _start(tmp_path, "run", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    health = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            health = httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    page = httpx.get(f"{url}/", timeout=5)
    code, out, err = _stop(proc)
    assert health is not None, err
    assert health.json()["status"] == "ok"
    assert page.status_code == 200
    assert f"Dashboard: {url}/" in out
    assert code == 0, err
    assert "Traceback" not in err
