"""outbound channels: dial state of outreach calls, outreach e-mails

Revision ID: 0006_outbound_calls
Revises: 0003_payments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outbound_calls"
down_revision: str | Sequence[str] | None = "0003_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbound_calls",
        sa.Column("attempt_id", sa.String(length=64), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("guarantor_id", sa.String(length=64), nullable=True),
        sa.Column("to", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("dial_state", sa.String(length=16), nullable=False),
        sa.Column("dial_error", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("last_sequence", sa.Integer(), nullable=True),
        sa.Column("final_status", sa.String(length=16), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("answered_by", sa.String(length=24), nullable=True),
        sa.Column("voicemail", sa.String(length=16), nullable=True),
        sa.Column("followup_sms", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_outbound_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_outbound_calls_call_sid")),
    )
    op.create_index(op.f("ix_outbound_calls_patient_id"), "outbound_calls", ["patient_id"])
    op.create_table(
        "outbound_emails",
        sa.Column("attempt_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("guarantor_id", sa.String(length=64), nullable=True),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("unsubscribe_token_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("unsubscribed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_outbound_emails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbound_emails_message_id")),
        sa.UniqueConstraint(
            "unsubscribe_token_sha256", name=op.f("uq_outbound_emails_unsubscribe_token_sha256")
        ),
    )
    op.create_index(op.f("ix_outbound_emails_patient_id"), "outbound_emails", ["patient_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_emails_patient_id"), table_name="outbound_emails")
    op.drop_table("outbound_emails")
    op.drop_index(op.f("ix_outbound_calls_patient_id"), table_name="outbound_calls")
    op.drop_table("outbound_calls")
