"""``seamline exceptions list|show|retry|skip|resolve``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seamline.exceptions import OWNERS, ConfigError, NotFound, SeamlineError

from ._output import (
    as_dict,
    format_time,
    print_heading,
    print_json,
    print_record,
    print_table,
    print_text,
    print_tree,
)
from ._state import out_console, state
from ._wiring import build_runtime

if TYPE_CHECKING:
    from seamline.services.exceptions import ExceptionService

__all__ = ["EXCEPTION_FIELDS", "exceptions_app"]

exceptions_app = typer.Typer(
    help="Work through exceptions: list, show, retry, skip, resolve.", no_args_is_help=True
)

#: The fields of ``exceptions list --json``, in this order.
EXCEPTION_FIELDS = ("id", "type", "owner", "severity", "business_key", "state", "count",
                    "message", "first_seen", "last_seen", "attempts")
STATES = ("open", "resolved", "skipped", "all")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NoteOpt = Annotated[str | None, typer.Option("--note", "-m", help="Why (kept in the history).")]


def _service(ctx: typer.Context) -> ExceptionService:
    return build_runtime(state(ctx).settings()).exceptions


def _actor() -> str:
    return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'operator'}"


def _record(row: Any) -> dict[str, Any]:
    data = as_dict(row)
    return {k: data.get(k) for k in EXCEPTION_FIELDS} | {
        k: v for k, v in data.items() if k not in EXCEPTION_FIELDS
    }


def _summary(row: Any) -> dict[str, Any]:
    data = as_dict(row)
    return {k: data.get(k) for k in EXCEPTION_FIELDS}


def _get(ctx: typer.Context, exception_id: int) -> tuple[Any, dict[str, Any]]:
    service = _service(ctx)
    row = service.get(exception_id)
    if row is None:
        raise NotFound(f"exception {exception_id} does not exist; see `seamline exceptions list`")
    return service, _record(row)


@exceptions_app.command("list")
def list_exceptions(  # noqa: PLR0917 - Typer options
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help=f"One of {', '.join(OWNERS)}.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="e.g. MAPPING_MISSING.")] = None,
    state_: Annotated[str, typer.Option("--state", help=f"One of {', '.join(STATES)}.")] = "open",
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """List exceptions (open ones by default), most recently seen first."""
    if owner is not None and owner not in OWNERS:
        raise ConfigError(f"unknown owner {owner!r}; owners are {', '.join(OWNERS)}")
    if state_ not in STATES:
        raise ConfigError(f"unknown state {state_!r}; states are {', '.join(STATES)}")
    rows = _service(ctx).list(
        owner=owner, type=type_, state=None if state_ == "all" else state_, limit=limit
    )
    records = [_summary(r) for r in rows]
    if as_json:
        print_json(records)
        return
    print_table(
        records,
        ("id", "type", "owner", "severity", "business_key:key", "state", "count",
         "last_seen:last seen", "message"),
        empty=f"no {state_ if state_ != 'all' else ''} exceptions".replace("  ", " "),
    )


@exceptions_app.command("show")
def show(ctx: typer.Context, exception_id: int, as_json: JsonOpt = False) -> None:
    """Show one exception: its error, the orders it holds, its payload and its history."""
    _, record = _get(ctx, exception_id)
    if as_json:
        print_json(record)
        return
    history = record.pop("history", ()) or ()
    details = record.pop("details", None)
    payload = record.pop("payload", None)
    print_record({k: v for k, v in record.items() if v not in (None, (), [])})
    for title, value in (("details", details), ("payload", payload)):
        if value:
            print_heading(title)
            print_tree(value, indent=2)
    print_heading("history (times in UTC)")
    if not history:
        print_text("  none")
    for entry in history:
        item = as_dict(entry)
        print_text(f"  {format_time(item.get('at'))}  {item.get('actor')}  "
                   f"{item.get('action')}" + (f": {item['note']}" if item.get("note") else ""))
        if item.get("detail"):
            print_tree(item["detail"], indent=4)


@exceptions_app.command("retry")
def retry(ctx: typer.Context, exception_id: int) -> None:
    """Queue again, now, every order the exception holds (mapped with the configuration as it
    is now) and its failed job if it has one; it resolves itself when they succeed."""
    service, _ = _get(ctx, exception_id)
    done = service.requeue(exception_id, actor=_actor())
    if done.nothing:
        if done.held:
            out_console.print(
                f"exception {exception_id}: the {len(done.held)} order(s) it holds are already "
                "queued; a worker (`seamline worker` or `seamline run`) posts them",
                markup=False)
            return
        raise SeamlineError(
            f"exception {exception_id} holds no order and has no failed job to re-queue; fix "
            f"the cause, then `seamline exceptions resolve {exception_id}`"
        )
    parts = []
    if done.job_id is not None:
        parts.append(f"job {done.job_id} queued again")
    if done.orders:
        shown = ", ".join(str(n) for n in done.orders[:10]) + (
            " …" if len(done.orders) > 10 else "")
        parts.append(f"{len(done.orders)} order(s) queued again: {shown}")
    out_console.print(
        f"exception {exception_id}: {'; '.join(parts)} (the exception closes when they "
        "succeed; a worker runs them)", markup=False,
    )


@exceptions_app.command("skip")
def skip(ctx: typer.Context, exception_id: int, note: NoteOpt = None) -> None:
    """Close the exception without doing the work (the item is deliberately not processed)."""
    service, _ = _get(ctx, exception_id)
    service.skip(exception_id, actor=_actor(), note=note or "")
    out_console.print(f"exception {exception_id} skipped", markup=False)


@exceptions_app.command("resolve")
def resolve(ctx: typer.Context, exception_id: int, note: NoteOpt = None) -> None:
    """Mark the exception resolved (fixed by hand elsewhere)."""
    service, _ = _get(ctx, exception_id)
    service.resolve(exception_id, actor=_actor(), note=note or "")
    out_console.print(f"exception {exception_id} resolved", markup=False)
