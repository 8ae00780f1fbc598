"""``seamline jobs list|show|retry``."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from seamline.exceptions import NotFound, SeamlineError

from ._output import as_dict, print_json, print_record, print_table
from ._state import out_console, state
from ._wiring import build_runtime

__all__ = ["jobs_app"]

jobs_app = typer.Typer(help="Look at and retry jobs in the queue.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
JOB_COLUMNS = ("id", "queue", "task", "status", "business_key:key", "attempts",
               "updated_at:updated", "last_error:error")


def _get(ctx: typer.Context, job_id: int) -> tuple[Any, dict[str, Any]]:
    rt = build_runtime(state(ctx).settings())
    job = rt.queue.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist; see `seamline jobs list`")
    return rt, as_dict(job)


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    rt = build_runtime(state(ctx).settings())
    rows = [as_dict(j) for j in rt.queue.list(queue=queue, status=status, limit=limit)]
    if as_json:
        print_json(rows)
        return
    print_table(rows, JOB_COLUMNS, empty="no jobs")


@jobs_app.command("show")
def show(ctx: typer.Context, job_id: int, as_json: JsonOpt = False) -> None:
    """Show one job with its payload and last error."""
    _, job = _get(ctx, job_id)
    if as_json:
        print_json(job)
        return
    print_record(job)


@jobs_app.command("retry")
def retry(ctx: typer.Context, job_id: int) -> None:
    """Run a failed or waiting job again now."""
    rt, _ = _get(ctx, job_id)
    if not rt.queue.retry(job_id, actor=f"cli:{os.environ.get('USER') or 'operator'}"):
        raise SeamlineError(
            f"job {job_id} is not failed or cancelled; only those can be retried "
            f"(see `seamline jobs show {job_id}`)"
        )
    out_console.print(f"job {job_id} queued to run again", markup=False)
