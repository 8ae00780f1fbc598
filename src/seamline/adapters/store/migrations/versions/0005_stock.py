"""Stock: BlueCherry ATS as last read, the figures Centra should hold, posted web demand.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_ats",
        sa.Column("warehouse", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(128), nullable=False),
        sa.Column("upc", sa.String(32), nullable=False, server_default=""),
        sa.Column("ats", sa.Integer, nullable=False),
        sa.Column("cycle_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("warehouse", "sku", name="pk_stock_ats"),
    )
    op.create_table(
        "stock_levels",
        sa.Column("centra_warehouse", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(128), nullable=False),
        sa.Column("centra_key", sa.String(128), nullable=False),
        sa.Column("ats", sa.Integer, nullable=False),
        sa.Column("buffer", sa.Integer, nullable=False),
        sa.Column("counted", sa.Integer, nullable=False),
        sa.Column("target", sa.Integer, nullable=False),
        sa.Column("pushed", sa.Integer, nullable=True),
        sa.Column("cycle_id", sa.Integer, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unknown", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("centra_warehouse", "sku", name="pk_stock_levels"),
    )
    op.create_table(
        "stock_demand",
        sa.Column("order_number", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("line_no", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("warehouse", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(128), nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("shipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_number", "line_no", name="pk_stock_demand"),
    )
    op.create_index("ix_stock_demand_sku", "stock_demand", ["sku"])
    op.create_index("ix_stock_demand_changed_at", "stock_demand", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_stock_demand_changed_at", table_name="stock_demand")
    op.drop_index("ix_stock_demand_sku", table_name="stock_demand")
    op.drop_table("stock_demand")
    op.drop_table("stock_levels")
    op.drop_table("stock_ats")
