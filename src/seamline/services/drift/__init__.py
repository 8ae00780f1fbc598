"""Drift and the missing-in-ERP watchdog (finance, issue 13, part 3).

``drift.scan`` (``service``) reads BlueCherry's sales orders changed since its cursor and raises
one ``ORDER_DRIFT`` per posted order that no longer says what Seamline posted (or that a person
changed), with the field-by-field diff; people accept BlueCherry's version or correct from
Centra as far as the contract allows. ``watchdogs.missing_in_erp`` (``missing``) raises
``ORDER_MISSING_IN_ERP`` for Centra orders that should be in BlueCherry by now and wait for no
named reason.
"""

from __future__ import annotations

from seamline.services.drift.missing import EXCEPTION as MISSING_EXCEPTION
from seamline.services.drift.missing import MissingInErp, MissingOrder, missing_rows
from seamline.services.drift.service import (
    CURSOR,
    EXCEPTION,
    KIND,
    Correction,
    DriftService,
    ScanResult,
    drift_key,
)
from seamline.services.drift.tasks import register_drift_tasks

__all__ = ["CURSOR", "EXCEPTION", "KIND", "MISSING_EXCEPTION", "Correction", "DriftService",
           "MissingInErp", "MissingOrder", "ScanResult", "drift_key", "missing_rows",
           "register_drift_tasks"]
