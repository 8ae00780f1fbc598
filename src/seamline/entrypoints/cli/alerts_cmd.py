"""``seamline alerts test|list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from seamline.exceptions import OWNERS, ConfigError, SeamlineError

from ._output import as_dict, print_json, print_table
from ._state import out_console, state
from ._wiring import build_runtime

if TYPE_CHECKING:
    from seamline.services.alerts import AlertService

__all__ = ["alerts_app"]

alerts_app = typer.Typer(help="Alerts to the owner teams: send a test, list deliveries.",
                         no_args_is_help=True)

OwnerOpt = Annotated[str | None, typer.Option(help=f"One of {', '.join(OWNERS)}.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DELIVERY_FIELDS = ("id", "created_at", "owner", "kind", "destination", "status", "attempts",
                   "sent_at", "title", "last_error")


def _service(ctx: typer.Context) -> AlertService:
    return build_runtime(state(ctx).settings()).alerts


def _owner(owner: str | None) -> None:
    if owner is not None and owner not in OWNERS:
        raise ConfigError(f"unknown owner {owner!r}; owners are {', '.join(OWNERS)}")


@alerts_app.command("test")
def send_test(ctx: typer.Context, owner: OwnerOpt = None, as_json: JsonOpt = False) -> None:
    """Send a test notification to each configured route (of one owner); say how each went."""
    _owner(owner)
    outcomes = _service(ctx).test(owner)
    if not outcomes:
        raise ConfigError("no alert route configured" + (f" for {owner}" if owner else "")
                          + "; add one under [alerts.routes] (an apprise URL per owner)")
    records = [{"owner": o.owner, "destination": o.destination,
                "outcome": "sent" if o.ok else "FAILED", "error": o.error} for o in outcomes]
    if as_json:
        print_json(records)
    else:
        print_table(records, ("owner", "destination", "outcome", "error"))
    failed = sum(1 for o in outcomes if not o.ok)
    if failed:
        raise SeamlineError(f"{failed} of {len(outcomes)} route(s) could not be reached")
    out_console.print(f"{len(outcomes)} route(s) reached", markup=False)


@alerts_app.command("list")
def list_deliveries(ctx: typer.Context, owner: OwnerOpt = None,
                    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
                    as_json: JsonOpt = False) -> None:
    """Recent alert deliveries, newest first: what was sent to whom and when."""
    _owner(owner)
    rows = _service(ctx).recent(limit=limit, owner=owner)
    records = [{k: as_dict(r).get(k) for k in DELIVERY_FIELDS} for r in rows]
    if as_json:
        print_json(records)
        return
    print_table(records, ("id", "created_at:created", "owner", "kind", "destination", "status",
                          "attempts", "sent_at:sent", "title", "last_error:error"),
                empty="no alert sent yet")
