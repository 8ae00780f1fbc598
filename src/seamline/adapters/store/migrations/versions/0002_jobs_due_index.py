"""Jobs: an index of due work in claim order (queue, priority desc, run_at, id; todo only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_jobs_due", "jobs", ["queue", sa.text("priority DESC"), "run_at", "id"], unique=False,
        postgresql_where=sa.text("status = 'todo'"), sqlite_where=sa.text("status = 'todo'"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_due", table_name="jobs")
