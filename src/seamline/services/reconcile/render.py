"""The report as CSV, JSON and an HTML page (Jinja2, rendered server-side; the dashboard and
the finance email use :func:`render_html`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from seamline.services.reconcile.service import Report

__all__ = ["CSV_FIELDS", "render", "render_csv", "render_html", "render_json"]

CSV_FIELDS = ("day", "market", "currency", "kind", "owner", "order", "reference", "component",
              "centra", "bluecherry", "difference", "note")

_env = Environment(loader=PackageLoader("seamline.services.reconcile", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                   lstrip_blocks=True)


def render_csv(reports: Sequence[Report]) -> str:
    """One row per difference, then one ``TOTAL`` row per market and currency (the sums of its
    rows)."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in reports:
        head = {"day": r.day.isoformat(), "market": r.market, "currency": r.currency}
        for row in r.rows:
            w.writerow({**head, **row.to_dict()})
    for r in reports:
        t = r.totals.to_dict()
        w.writerow({"day": r.day.isoformat(), "market": r.market, "currency": r.currency,
                    "kind": "TOTAL", "owner": "", "order": str(t["differences"]),
                    "reference": "", "component": "", "centra": t["rows_centra"],
                    "bluecherry": t["rows_bluecherry"], "difference": t["rows_difference"],
                    "note": f"{t['orders']} orders"})
    return out.getvalue()


def render_json(reports: Sequence[Report]) -> str:
    return json.dumps({"reports": [r.to_dict() for r in reports]}, indent=2) + "\n"


def render_html(reports: Sequence[Report]) -> str:
    """The report page finance reads (self-contained HTML)."""
    return _env.get_template("report.html.j2").render(
        reports=[{"report": r, "totals": r.totals.to_dict(),
                  "rows": [row.to_dict() for row in r.rows]} for r in reports])


def render_html_sections(reports: Sequence[Report]) -> str:
    """The reports' sections alone (escaped): what the dashboard's Reconciliation page embeds
    under its own styles (its content security policy allows no inline style)."""
    return _env.get_template("report_sections.html.j2").render(
        reports=[{"report": r, "totals": r.totals.to_dict(),
                  "rows": [row.to_dict() for row in r.rows]} for r in reports])


def render(reports: Sequence[Report], fmt: str) -> str:
    if fmt == "csv":
        return render_csv(reports)
    if fmt == "html":
        return render_html(reports)
    return render_json(reports)
