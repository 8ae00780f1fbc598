"""The dashboard: indexes for the overview's figures on a large store.

``ix_jobs_status_queue_updated`` (status, queue, updated_at): per queue, the jobs that ended in
the last 24 hours (a range) and the last success (the range's end) are read from the index.
``ix_ledger_kind_state_updated`` (kind, state, updated_at): each flow's backlog per waiting
state with its oldest row, likewise. (``benchmarks/dashboard.py``: the overview on 100,000
orders and jobs, SQLite.)

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_status_queue_updated", "jobs", ["status", "queue", "updated_at"])
    op.create_index("ix_ledger_kind_state_updated", "ledger", ["kind", "state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_kind_state_updated", table_name="ledger")
    op.drop_index("ix_jobs_status_queue_updated", table_name="jobs")
