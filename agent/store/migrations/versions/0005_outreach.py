"""outreach: planned/dispatched contacts, collection cycles, A/R sync cursors

Revision ID: 0005_outreach
Revises: 0003
Create Date: 2026-11-23 14:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_outreach"
down_revision: str | Sequence[str] | None = "0003_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outreach_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("guarantor_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.String(length=64), nullable=False),
        sa.Column("step_key", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("line_type", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("balance", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outreach_jobs_dedupe_key")),
    )
    op.create_index("ix_outreach_jobs_state_due_at", "outreach_jobs", ["state", "due_at"], unique=False)
    op.create_index("ix_outreach_jobs_guarantor_id", "outreach_jobs", ["guarantor_id"], unique=False)
    op.create_table(
        "outreach_accounts",
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("guarantor_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_started_on", sa.Date(), nullable=False),
        sa.Column("balance", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("review_task_id", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("practice_id", "guarantor_id", name=op.f("pk_outreach_accounts")),
    )
    op.create_table(
        "outreach_cursors",
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.String(length=255), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_outreach_cursors")),
    )


def downgrade() -> None:
    op.drop_table("outreach_cursors")
    op.drop_table("outreach_accounts")
    op.drop_index("ix_outreach_jobs_guarantor_id", table_name="outreach_jobs")
    op.drop_index("ix_outreach_jobs_state_due_at", table_name="outreach_jobs")
    op.drop_table("outreach_jobs")
