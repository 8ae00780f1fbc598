"""The long-running processes: ``seamline worker``, ``seamline scheduler``, ``seamline run``.

SIGTERM or SIGINT sets a stop event: the worker finishes or releases the jobs it holds, the
scheduler stops ticking, the web server closes, and the process exits 0.

None of them starts when it cannot work; each refusal is one line and an exit code:
credentials missing (2: worker, run), ``--host`` beyond loopback with no ``[[web.users]]`` and
without ``--insecure`` (2),
the database unreachable or not at the latest migration (3: run ``seamline db upgrade``), the
web port taken (1, naming it). ``run`` binds its port before it says it is running.
"""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.markup import escape

from seamline.config import Settings
from seamline.exceptions import ConfigError, SeamlineError
from seamline.logging import get_logger
from seamline.schedules import schedules_with_defaults

from ._state import err_console, out_console, state
from ._wiring import build_runtime

__all__ = [
    "PortInUse",
    "bind_web_socket",
    "check_exposure",
    "is_loopback",
    "parse_queues",
    "register_process_commands",
    "require_credentials",
    "stop_on_signals",
    "watch_config",
]

log = get_logger("seamline.cli")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT set ``stop`` (a second one says we are on it)."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("still stopping; finishing or releasing current jobs", signal=name)
            return
        log.info("stopping", signal=name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def parse_queues(raw: str | None, known: set[str]) -> list[str] | None:
    """``a,b`` → ``["a", "b"]``; an unknown name is a one-line configuration error."""
    if raw is None:
        return None
    names = [q.strip() for q in raw.split(",") if q.strip()]
    if not names:
        raise ConfigError("--queues is empty; name at least one queue, e.g. --queues orders")
    unknown = [q for q in names if q not in known]
    if unknown:
        raise ConfigError(
            f"unknown queue {', '.join(repr(q) for q in unknown)}; known queues: "
            f"{', '.join(sorted(known))} (add one under [queues.concurrency] in the config)"
        )
    return names


class PortInUse(SeamlineError):
    """The web port is taken by another process (exit 1)."""


def require_credentials(settings: Settings) -> None:
    """``ConfigError`` (one line, exit 2) naming every credential the flows need but lack."""
    missing = []
    if settings.centra.token is None or not settings.centra.token.get_secret_value():
        missing.append("SEAMLINE_CENTRA_TOKEN")
    if settings.bluecherry.api_key is None or not settings.bluecherry.api_key.get_secret_value():
        missing.append("SEAMLINE_BLUECHERRY_API_KEY")
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; set "
            f"{'it' if len(missing) == 1 else 'them'} in the environment or the secrets file "
            "(SEAMLINE_SECRETS_FILE), then start again"
        )


def check_exposure(settings: Settings, host: str, *, insecure: bool) -> None:
    """Beyond loopback, the dashboard is served only with sign-in (``[[web.users]]``), or
    with ``--insecure`` (a read-only dashboard anyone reaching the port can read)."""
    if is_loopback(host) or settings.web.users or insecure:
        return
    raise ConfigError(
        f"--host {host} would serve the dashboard beyond this machine with no sign-in (no "
        "[[web.users]] configured); add users (`seamline web hash-password`), keep "
        "127.0.0.1, or add --insecure to serve it read-only to anyone who can reach it"
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_web_socket(host: str, port: int) -> socket.socket:
    """The listening socket for the web server, bound now; ``PortInUse`` (exit 1) if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"web port {port} on {host} is in use by another program; stop it (`ss -ltnp "
                f"'sport = :{port}'` shows which) or choose another with --port / [web].port"
            ) from None
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                        "check --host / [web].host and --port / [web].port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


QueuesOpt = Annotated[
    str | None,
    typer.Option("--queues", "-q", help="Comma-separated queue names (default: all)."),
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option("--concurrency", "-n", min=1,
                 help=escape("Jobs run at once (default: [queues.concurrency] per queue).")),
]
HostOpt = Annotated[str | None, typer.Option(help=escape("Web host (default [web].host)."))]
PortOpt = Annotated[int | None, typer.Option(help=escape("Web port (default [web].port)."))]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure",
    help=escape("Allow a --host beyond loopback with no [[web.users]] (the dashboard is then "
                "read-only and open to anyone reaching it)."),
)]


def _run_threads(targets: dict[str, Callable[[], Any]], stop: threading.Event) -> None:
    """Run each target in a thread; if any ends or fails, stop the others; re-raise a failure."""
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], Any]) -> Callable[[], None]:
        def runner() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                stop.set()
        return runner

    threads = [threading.Thread(target=wrap(fn), name=name, daemon=True)
               for name, fn in targets.items()]
    for t in threads:
        t.start()
    while not stop.wait(0.2):
        pass
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def watch_config(rt: Any, path: Path, stop: threading.Event) -> None:
    """Until ``stop``: each poll interval, re-read the configuration when its file or the
    store's configuration generation changed (``seamline config reload``); a valid file is
    applied and re-queues what it unblocks, a broken one is refused (``CONFIG_INVALID``) and
    the running configuration kept. See ``seamline.services.config_reload``."""
    reloader = rt.config_reloader(path)
    interval = max(1.0, float(rt.settings.queues.poll_interval_s) * 2)
    while not stop.wait(interval):
        try:
            done = reloader.check()
        except Exception as exc:  # a failed look is logged; the next one retries
            log.warning("configuration check failed; will look again", error=str(exc))
            continue
        if done is None:
            continue
        if done.applied:
            log.info("configuration reloaded", path=done.path, cause=done.cause,
                     orders_requeued=done.requeued,
                     restart_needed=list(done.restart_needed) or None)
        else:
            log.error("configuration file refused; the running configuration is kept "
                      "(see the CONFIG_INVALID exception)", path=done.path,
                      problems=list(done.problems))


def _start_config_watch(rt: Any, path: Path, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=watch_config, args=(rt, path, stop),
                              name="config-watch", daemon=True)
    thread.start()
    return thread


def _worker(ctx: typer.Context, queues: str | None, concurrency: int | None) -> None:
    st = state(ctx)
    settings = st.settings()
    st.setup_logging()
    rt = build_runtime(settings)
    names = parse_queues(queues, rt.known_queues())
    require_credentials(settings)
    rt.db.require_latest()
    stop = threading.Event()
    with stop_on_signals(stop):
        log.info("worker started", queues=names or "all", database=rt.db.safe_url)
        _start_config_watch(rt, st.config_path, stop)
        rt.worker(queues=names, concurrency=concurrency).run(stop)
    log.info("worker stopped")


def _scheduler(ctx: typer.Context) -> None:
    st = state(ctx)
    settings = st.settings()
    st.setup_logging()
    rt = build_runtime(settings)
    rt.db.require_latest()
    stop = threading.Event()
    with stop_on_signals(stop):
        log.info("scheduler started", schedules=sorted(schedules_with_defaults(settings)))
        _start_config_watch(rt, st.config_path, stop)
        rt.scheduler().run(stop)
    log.info("scheduler stopped")


def _run(ctx: typer.Context, *, queues: str | None, concurrency: int | None,
         host: str | None, port: int | None, insecure: bool) -> None:
    st = state(ctx)
    settings = st.settings()
    st.setup_logging()
    web_host = host or settings.web.host
    web_port = settings.web.port if port is None else port
    check_exposure(settings, web_host, insecure=insecure)
    rt = build_runtime(settings)
    names = parse_queues(queues, rt.known_queues())
    require_credentials(settings)
    rt.db.require_latest()
    sock = bind_web_socket(web_host, web_port)
    stop = threading.Event()
    server = _web_server(settings, rt, host=web_host, port=sock.getsockname()[1])
    url = f"http://{server.config.host}:{server.config.port}/"

    def serve() -> None:
        server.run(sockets=[sock])

    def watch_web() -> None:
        stop.wait()
        server.should_exit = True

    with stop_on_signals(stop):
        out_console.print(f"Seamline is running. Dashboard: {url}  (Ctrl+C to stop)",
                          markup=False)
        threading.Thread(target=watch_web, name="web-stop", daemon=True).start()
        _run_threads(
            {
                "worker": lambda: rt.worker(queues=names, concurrency=concurrency).run(stop),
                "scheduler": lambda: rt.scheduler().run(stop),
                "config-watch": lambda: watch_config(rt, st.config_path, stop),
                "web": serve,
            },
            stop,
        )
    err_console.print("stopped", markup=False)


def register_process_commands(app: typer.Typer) -> None:
    """Add ``worker``, ``scheduler`` and ``run`` to ``app``."""

    @app.command("worker")
    def worker(ctx: typer.Context, queues: QueuesOpt = None,
               concurrency: ConcurrencyOpt = None) -> None:
        """Run jobs from the queues until SIGTERM/SIGINT (then finish or release them)."""
        _worker(ctx, queues, concurrency)

    @app.command("scheduler")
    def scheduler(ctx: typer.Context) -> None:
        """Enqueue scheduled jobs on time; only one scheduler is active per database."""
        _scheduler(ctx)

    @app.command("run")
    def run(
        ctx: typer.Context, *, queues: QueuesOpt = None, concurrency: ConcurrencyOpt = None,
        host: HostOpt = None, port: PortOpt = None, insecure: InsecureOpt = False,
    ) -> None:
        """Worker + scheduler + web dashboard in one process (the embedded default)."""
        _run(ctx, queues=queues, concurrency=concurrency, host=host, port=port,
             insecure=insecure)


def web_routers(settings: Settings, rt: Any) -> list[Any]:
    """Routers that ``run`` mounts besides the dashboard: the Centra webhook receiver at
    ``/webhooks/centra`` when ``SEAMLINE_CENTRA_WEBHOOK_SECRET`` is set (each verified notice
    enqueues a fetch of the orders it names; polling stays on as the safety net). Replays are
    refused through the store, so every web process on one database sees the same signatures."""
    secret = settings.centra.webhook_secret
    if secret is None or not secret.get_secret_value():
        return []
    from seamline.adapters.centra.webhooks import webhook_router  # noqa: PLC0415 - lazy

    def on_events(events: list[Any]) -> None:
        rt.orders.enqueue_fetch(events)

    return [webhook_router(secret, settings.centra.webhook_tolerance_s, on_events,
                           path="/webhooks/centra",
                           max_body_bytes=settings.centra.webhook_max_body_bytes,
                           replay_guard=rt.replay_guard())]


def _web_server(settings: Settings, rt: Any, *, host: str | None, port: int | None) -> Any:
    import uvicorn  # noqa: PLC0415 - lazy: keep CLI start-up light

    from seamline.entrypoints.web.app import create_app  # noqa: PLC0415 - lazy: keep CLI start-up light

    app = create_app(settings, rt.db, queue=rt.queue, routers=web_routers(settings, rt),
                     **rt.web_options())
    config = uvicorn.Config(
        app, host=host or settings.web.host, port=settings.web.port if port is None else port,
        log_config=None, access_log=False, lifespan="off",
    )
    return uvicorn.Server(config)
