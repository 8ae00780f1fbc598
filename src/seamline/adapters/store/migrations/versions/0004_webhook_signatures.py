"""Webhook signatures seen within their tolerance window (replays are refused).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_signatures",
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("signature", name="pk_webhook_signatures"),
    )
    op.create_index("ix_webhook_signatures_expires_at", "webhook_signatures", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_signatures_expires_at", table_name="webhook_signatures")
    op.drop_table("webhook_signatures")
