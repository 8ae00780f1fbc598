"""``seamline web serve`` (the dashboard alone) and ``seamline web hash-password``."""

from __future__ import annotations

import getpass
import sys
import threading
from typing import Annotated

import typer
from rich.markup import escape

from seamline.exceptions import ConfigError

from ._state import err_console, out_console, state
from ._wiring import build_runtime
from .process_cmd import (
    HostOpt,
    InsecureOpt,
    PortOpt,
    bind_web_socket,
    check_exposure,
    stop_on_signals,
    web_routers,
)

__all__ = ["web_app"]

web_app = typer.Typer(help="The web dashboard: serve it, hash a sign-in password.",
                      no_args_is_help=True)


@web_app.command("hash-password")
def hash_password(
    stdin: Annotated[bool, typer.Option(
        "--stdin", help="Read the password from standard input (one line) instead of asking.",
    )] = False,
) -> None:
    r"""Print a password hash for a \[\[web.users]] entry (the password is never kept)."""
    from seamline.entrypoints.web.auth import hash_password as _hash  # noqa: PLC0415 - lazy

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("the two passwords differ; nothing was printed")
    if len(password) < 12:
        raise ConfigError("a dashboard password needs at least 12 characters")
    out_console.print(_hash(password), markup=False)
    err_console.print(escape('Put it in the configuration: [[web.users]] name = "..." '
                             'role = "operator" password_hash = "<the line above>"'),
                      markup=True)


@web_app.command("serve")
def serve(
    ctx: typer.Context,
    host: HostOpt = None,
    port: PortOpt = None,
    insecure: InsecureOpt = False,
) -> None:
    """Serve the dashboard, /healthz, /readyz, /metrics and the webhook (no worker)."""
    import uvicorn  # noqa: PLC0415 - lazy: keep CLI start-up light

    from seamline.entrypoints.web.app import create_app  # noqa: PLC0415

    st = state(ctx)
    settings = st.settings()
    st.setup_logging()
    web_host = host or settings.web.host
    web_port = settings.web.port if port is None else port
    check_exposure(settings, web_host, insecure=insecure)
    rt = build_runtime(settings)
    rt.db.require_latest()
    sock = bind_web_socket(web_host, web_port)
    app = create_app(settings, rt.db, queue=rt.queue, routers=web_routers(settings, rt),
                     **rt.web_options())
    server = uvicorn.Server(uvicorn.Config(app, host=web_host, port=sock.getsockname()[1],
                                           log_config=None, access_log=False, lifespan="off"))
    stop = threading.Event()

    def watch() -> None:
        stop.wait()
        server.should_exit = True

    with stop_on_signals(stop):
        out_console.print(f"Dashboard: http://{web_host}:{sock.getsockname()[1]}/  "
                          "(Ctrl+C to stop)", markup=False)
        threading.Thread(target=watch, name="web-stop", daemon=True).start()
        server.run(sockets=[sock])
    rt.close()
