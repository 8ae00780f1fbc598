"""``seamline web hash-password`` and ``seamline web serve`` as a person runs them: the hash
signs a user in to the dashboard the command serves; beyond loopback it wants users."""

from __future__ import annotations

import os
import re
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


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    env["SEAMLINE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'seamline.db'}"
    env["COLUMNS"] = "300"
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, config: Path = EXAMPLE, stdin: str = "",
         **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SEAMLINE), "-c", str(config), *args], cwd=tmp_path,
                          env=_env(tmp_path, **env), input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


def _config_with_user(tmp_path: Path, password_hash: str) -> Path:
    config = tmp_path / "seamline.toml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8") + (
        '\n[[web.users]]\nname = "anna"\nrole = "operator"\n'
        f'password_hash = "{password_hash}"\n'), encoding="utf-8")
    return config


def test_a_short_password_is_refused_and_a_good_one_hashed(tmp_path: Path) -> None:
    short = _run(tmp_path, "web", "hash-password", "--stdin", stdin="short\n")
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    done = _run(tmp_path, "web", "hash-password", "--stdin", stdin="a good long password\n")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"scrypt\$32768\$8\$1\$\S+\$\S+\n", done.stdout)
    assert "a good long password" not in done.stdout + done.stderr


def test_the_hash_signs_in_to_the_dashboard_that_web_serve_serves(tmp_path: Path) -> None:
    """hash-password → [[web.users]] → web serve → sign in over HTTP → the overview."""
    hashed = _run(tmp_path, "web", "hash-password", "--stdin",
                  stdin="anna's long password\n").stdout.strip()
    config = _config_with_user(tmp_path, hashed)
    assert _run(tmp_path, "db", "upgrade", config=config).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(SEAMLINE), "-c", str(config), "web", "serve", "--port",
                             str(port)], cwd=tmp_path, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with httpx.Client(base_url=base) as client:
            assert client.get("/").status_code == 303
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            wrong = client.post("/login", data={"username": "anna", "password": "nope",
                                                "csrf_token": token.group(1)})
            assert wrong.headers["location"].startswith("/login")
            ok = client.post("/login", data={"username": "anna",
                                             "password": "anna's long password",
                                             "csrf_token": token.group(1)})
            assert ok.status_code == 303
            page = client.get("/")
            assert page.status_code == 200
            assert "anna (operator)" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_beyond_loopback_web_serve_wants_users_or_insecure(tmp_path: Path) -> None:
    """No [[web.users]]: --host 0.0.0.0 is refused (exit 2, one line) unless --insecure; with
    users the host check passes (shown by reaching the port check on a port held here)."""
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    refused = _run(tmp_path, "web", "serve", "--host", "0.0.0.0")
    assert refused.returncode == 2
    assert "no sign-in" in refused.stderr
    assert "add --insecure" in refused.stderr
    hashed = _run(tmp_path, "web", "hash-password", "--stdin",
                  stdin="anna's long password\n").stdout.strip()
    config = _config_with_user(tmp_path, hashed)
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        allowed = _run(tmp_path, "web", "serve", "--host", "0.0.0.0", "--port", str(port),
                       config=config)
    assert allowed.returncode == 1, allowed.stderr
    assert f"web port {port} on 0.0.0.0 is in use" in allowed.stderr
