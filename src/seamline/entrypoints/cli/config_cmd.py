"""``seamline config check [--online]``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated, cast

import typer

from seamline.config import Settings
from seamline.exceptions import ConfigError
from seamline.schedules import schedules_with_defaults

from ._errors import EXIT_OTHER
from ._state import err_console, out_console, state
from ._wiring import display_url

__all__ = ["config_app", "summary", "warnings_for"]

config_app = typer.Typer(help="Check the configuration, and apply a changed one without a restart.",
                         no_args_is_help=True)

PREFLIGHT_MODULE = "seamline.services.preflight"


def warnings_for(settings: Settings) -> list[str]:
    """Things that are valid but probably not what the integrator meant."""
    out: list[str] = []
    if settings.centra.token is None:
        out.append("centra.token: not set; export SEAMLINE_CENTRA_TOKEN (or SEAMLINE_SECRETS_FILE)")
    if settings.bluecherry.api_key is None:
        out.append(
            "bluecherry.api_key: not set; export SEAMLINE_BLUECHERRY_API_KEY "
            "(or SEAMLINE_SECRETS_FILE)"
        )
    if not settings.markets:
        out.append("markets: none mapped; every order will end as MAPPING_MISSING")
    if not settings.shipping_options:
        out.append("shipping_options: none mapped; every order will end as MAPPING_MISSING")
    mapped_wh = {code for codes in settings.warehouses.values() for code in codes}
    for i, m in enumerate(settings.markets):
        if settings.warehouses and m.warehouse not in mapped_wh:
            out.append(
                f"markets[{i}].warehouse: {m.warehouse!r} is not the BlueCherry side of any "
                "[warehouses] entry; stock for it will not reach Centra"
            )
    return out


def _every(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _routes(settings: Settings) -> str:
    """The routes per owner by kind only (``mailto``, ``slack``): the URLs hold secrets."""
    routes = {o: urls for o, urls in settings.alerts.routes.items() if urls}
    if not routes:
        return "no route: nothing is sent (set [alerts.routes])"
    listed = ", ".join(
        f"{owner} → {' + '.join(u.split('://', 1)[0] for u in urls)}"
        for owner, urls in sorted(routes.items()))
    return f"{sum(len(u) for u in routes.values())} route(s): {listed}"


def summary(settings: Settings) -> list[str]:
    """A few lines that say what this configuration will do."""
    daily = [m for m in settings.markets if m.mode == "daily"]
    realtime = [m for m in settings.markets if m.mode == "realtime"]
    markets = ", ".join(
        f"{m.centra_market}{'/' + m.currency if m.currency else ''}→{m.store}"
        f" ({m.mode}{' ' + m.cutoff + ' ' + m.timezone if m.mode == 'daily' else ''})"
        for m in settings.markets
    )

    def secret(v: object) -> str:
        return "set" if v is not None else "NOT SET"

    schedules = schedules_with_defaults(settings)
    listed = ", ".join(
        f"{name} every {_every(entry.every_s)}"
        + (" (configured)" if name in settings.schedules else "")
        for name, entry in schedules.items()
    )

    return [
        f"database    {display_url(settings.store.database_url)}",
        f"centra      {settings.centra.base_url} (token {secret(settings.centra.token)})",
        f"bluecherry  {settings.bluecherry.base_url} "
        f"(api key {secret(settings.bluecherry.api_key)})",
        f"markets     {len(settings.markets)} mapped: {len(realtime)} realtime, "
        f"{len(daily)} daily" + (f" — {markets}" if markets else ""),
        f"shipping    {len(settings.shipping_options)} option(s) mapped",
        f"warehouses  {len(settings.warehouses)} Centra warehouse(s) mapped",
        f"payments    {_payments(settings)}",
        f"queues      {', '.join(f'{q}×{n}' for q, n in settings.queues.concurrency.items())}",
        f"schedules   {len(schedules)} will run" + (f": {listed}" if listed else ""),
        f"web         http://{settings.web.host}:{settings.web.port}/ ("
        + (f"{len(settings.web.users)} user(s) may sign in" if settings.web.users
           else "no [[web.users]]: read-only") + ")",
        f"alerts      {_routes(settings)}",
    ]


def _payments(settings: Settings) -> str:
    p = settings.payments
    if not p.enabled:
        return "daily batch off (seamline payments batch still works)"
    return (f"daily batch at {p.batch_time} in each market's time zone, "
            f"{p.receipt_grouping.replace('_', ' ')}; {len(p.methods)} payment method(s) "
            f"mapped, else {p.default_method}")


def _load_preflight() -> Callable[[Settings], list[str]] | None:
    try:
        module = importlib.import_module(PREFLIGHT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name is not None and PREFLIGHT_MODULE.startswith(exc.name):
            return None
        raise
    fn = getattr(module, "check_online", None)
    return cast("Callable[[Settings], list[str]] | None", fn)


def database_state(settings: Settings) -> tuple[str | None, str | None]:
    """Connect to the database: (a problem, or None; its migration state, or None)."""
    from seamline.exceptions import StoreError  # noqa: PLC0415 - lazy: keep start-up light

    from ._wiring import open_database  # noqa: PLC0415 - lazy: keep start-up light

    db = open_database(settings, check=False)
    try:
        db.check()
        current, head = db.migration_state()
    except StoreError as exc:
        return f"store.database_url: {exc.message}", None
    finally:
        db.dispose()
    if current == head:
        return None, f"at the latest migration ({head})"
    if current is None:
        return None, f"reachable, not migrated yet (latest {head}): run `seamline db upgrade`"
    return None, f"at migration {current}, latest {head}: run `seamline db upgrade`"


@config_app.command("check")
def check(
    ctx: typer.Context,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="Also check every code against BlueCherry's master data, that both "
            "systems accept the credentials, and the database and its migration state.",
        ),
    ] = False,
) -> None:
    """Validate the configuration file; print every problem with its key path and a hint."""
    st = state(ctx)
    path = st.config_path
    settings = st.settings(require_file=True)
    db_state: str | None = None
    for warning in warnings_for(settings):
        err_console.print(f"warning: {warning}", markup=False)
    if online:
        preflight = _load_preflight()
        if preflight is None:
            err_console.print(
                "error: online checks are not available in this build "
                f"({PREFLIGHT_MODULE}.check_online is missing); the offline check passed",
                markup=False,
            )
            raise typer.Exit(EXIT_OTHER)
        db_problem, db_state = database_state(settings)
        problems = list(preflight(settings)) + ([db_problem] if db_problem else [])
        if db_state is not None and "run `seamline db upgrade`" in db_state:
            err_console.print(f"warning: database {db_state}", markup=False)
        if problems:
            raise ConfigError(
                f"{path}: {len(problems)} problem(s) found online", problems=problems
            )
    out_console.print(
        f"configuration OK{' (online checks passed)' if online else ''}: {path}", markup=False
    )
    for line in summary(settings):
        out_console.print(f"  {line}", markup=False)
    if online and db_state is not None:
        out_console.print(f"  migrations  {db_state}", markup=False)



@config_app.command("reload")
def reload(ctx: typer.Context) -> None:
    """Apply a changed configuration file to the running processes, without a restart.

    The file is validated first: a broken one is refused with every problem and its key path
    (the running processes keep the configuration they run with). A valid one re-queues now the
    orders parked on a mapping or SKU it supplies, and tells every process sharing the database
    to re-read its file within one poll interval. (They also notice an edited file by
    themselves.)"""
    st = state(ctx)
    path = st.config_path
    try:
        settings = st.settings(require_file=True)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message}; refused: the running processes keep the configuration they run "
            "with (each records a CONFIG_INVALID exception when it sees this file)",
            problems=exc.problems) from None
    from seamline.services.config_reload import announce  # noqa: PLC0415 - lazy start-up

    from ._wiring import build_runtime  # noqa: PLC0415 - lazy start-up

    rt = build_runtime(settings)
    try:
        generation, requeued = announce(
            rt.store, path, requeue=rt.orders.requeue_parked, now=rt.queue.clock(),
            actor="cli:config reload")
    finally:
        rt.close()
    every = max(1.0, float(settings.queues.poll_interval_s) * 2)
    out_console.print(
        f"configuration OK: {path}; {requeued} parked order(s) re-queued; running processes "
        f"re-read it within {every:g} s (generation {generation})", markup=False)
