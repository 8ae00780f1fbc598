"""Payments: Centra captures and refunds recorded, the receipts and credit memos planned and
posted, BlueCherry invoices mirrored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_records",
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("order_number", sa.BigInteger, nullable=False),
        sa.Column("entry_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("market", sa.String(32), nullable=False),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.String(32), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_day", sa.String(10), nullable=False),
        sa.Column("document", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference", name="pk_payment_records"),
    )
    op.create_index("ix_payment_records_order_number", "payment_records", ["order_number"])
    op.create_index("ix_payment_records_business_day", "payment_records", ["business_day"])
    op.create_index("ix_payment_records_document", "payment_records", ["document"])
    op.create_table(
        "payment_documents",
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("business_day", sa.String(10), nullable=False),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.String(32), nullable=False),
        sa.Column("unapplied", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("orders", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference", name="pk_payment_documents"),
    )
    op.create_index("ix_payment_documents_business_day", "payment_documents",
                    ["business_day"])
    op.create_index("ix_payment_documents_state", "payment_documents", ["state"])
    op.create_table(
        "payment_invoices",
        sa.Column("invoice_no", sa.String(64), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("customer_po", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.String(32), nullable=False),
        sa.Column("invoice_date", sa.String(10), nullable=False),
        sa.Column("applied", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("invoice_no", name="pk_payment_invoices"),
    )
    op.create_index("ix_payment_invoices_customer_po", "payment_invoices", ["customer_po"])


def downgrade() -> None:
    op.drop_index("ix_payment_invoices_customer_po", table_name="payment_invoices")
    op.drop_table("payment_invoices")
    op.drop_index("ix_payment_documents_state", table_name="payment_documents")
    op.drop_index("ix_payment_documents_business_day", table_name="payment_documents")
    op.drop_table("payment_documents")
    op.drop_index("ix_payment_records_document", table_name="payment_records")
    op.drop_index("ix_payment_records_business_day", table_name="payment_records")
    op.drop_index("ix_payment_records_order_number", table_name="payment_records")
    op.drop_table("payment_records")
