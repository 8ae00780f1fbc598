"""A 400 MB unsigned POST to the webhook costs the server no memory: it is refused unread.

The server runs in its own process (the real app and webhook router on uvicorn); its peak
resident memory (``VmHWM``) is read from ``/proc`` before and after. The body is generated on
the fly and written to a raw socket, so the test itself never holds it either.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SECRET = "whsec-memory"
BODY_BYTES = 400 * 1024 * 1024
CHUNK = b"payload=" + b"A" * (64 * 1024 - 8)

SERVER = """
import sys, uvicorn
from seamline.bootstrap import build
from seamline.config import load_settings
from seamline.entrypoints.cli.process_cmd import web_routers
from seamline.entrypoints.web.app import create_app

settings = load_settings()
rt = build(settings)
rt.db.upgrade()
app = create_app(settings, rt.db, queue=rt.queue, routers=web_routers(settings, rt))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False,
            lifespan="off")
"""

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _post_streamed(port: int, headers: dict[str, str], total: int) -> tuple[int, str]:
    """Send ``total`` bytes of body (chunked, generated as it goes); return (bytes the server
    took before it closed or answered, the first line of its answer)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /webhooks/centra HTTP/1.1\r\nHost: x\r\n"
                     f"Transfer-Encoding: chunked\r\n{head}\r\n".encode())
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        try:
            while sent < total:
                sock.sendall(frame)
                sent += len(CHUNK)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        try:
            answer = sock.recv(4096).decode("latin-1", "replace")
        except (ConnectionResetError, TimeoutError):
            answer = ""
    return sent, answer.split("\r\n", 1)[0]


def test_an_unsigned_400_mb_post_leaves_the_servers_peak_memory_where_it_was(
    tmp_path: Path,
) -> None:
    """Unsigned, and signed-looking with a bad MAC, 400 MB each: refused (401 unread, 413 at the
    limit), and the server's VmHWM grows by less than 20 MB."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env |= {"SEAMLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'seamline.db'}",
            "SEAMLINE_CENTRA_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        bad_mac = {"X-Centra-Signature": f"t={int(time.time())},v1={'0' * 64}"}
        # Warm up every path the big requests take (imports, pools), then take the baseline.
        for _ in range(3):
            _post_streamed(port, {}, 256 * 1024)
            _post_streamed(port, bad_mac, 2 * 1024 * 1024)
        before = _peak_kb(proc.pid)
        sent_unsigned, unsigned = _post_streamed(port, {}, BODY_BYTES)
        sent_bad_mac, signed = _post_streamed(port, bad_mac, BODY_BYTES)
        after = _peak_kb(proc.pid)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    report = (f"VmHWM before {before / 1024:.1f} MB, after {after / 1024:.1f} MB; "
              f"unsigned: {unsigned!r} after {sent_unsigned / 2**20:.1f} MB sent; "
              f"bad MAC: {signed!r} after {sent_bad_mac / 2**20:.1f} MB sent")
    print(report)
    assert " 401 " in unsigned + " ", report
    assert " 413 " in signed + " ", report
    assert after - before < 20 * 1024, report
