"""payments: <Pay> hand-offs, plan schedules and installments

Revision ID: 0007_payment_plans
Revises: 0003_payments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_payment_plans"
down_revision: str | Sequence[str] | None = "0003_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_MONEY = sa.Numeric(precision=12, scale=2)


def upgrade() -> None:
    op.create_table(
        "pay_handoffs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("guarantor_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("reusable", sa.Boolean(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=40), nullable=True),
        sa.Column("processor_ref", sa.String(length=255), nullable=True),
        sa.Column("last_status", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_handoffs")),
    )
    op.create_index("ix_pay_handoffs_call_status", "pay_handoffs", ["call_sid", "status"])
    op.create_index(op.f("ix_pay_handoffs_guarantor_id"), "pay_handoffs", ["guarantor_id"])
    op.create_table(
        "plan_schedules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("guarantor_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("source_ref", sa.String(length=255), nullable=False),
        sa.Column("plan_key", sa.String(length=40), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("customer_ref", sa.String(length=255), nullable=False),
        sa.Column("payment_method_ref", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_schedules")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_plan_schedules_source_ref")),
    )
    op.create_index(op.f("ix_plan_schedules_guarantor_id"), "plan_schedules", ["guarantor_id"])
    op.create_table(
        "plan_installments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("reminded_at", _TS, nullable=True),
        sa.Column("processor_ref", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.String(length=80), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_installments")),
        sa.UniqueConstraint("plan_id", "seq", name="uq_plan_installments_plan_seq"),
    )
    op.create_index(op.f("ix_plan_installments_plan_id"), "plan_installments", ["plan_id"])
    op.create_index("ix_plan_installments_status_next", "plan_installments", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("plan_installments")
    op.drop_table("plan_schedules")
    op.drop_table("pay_handoffs")
