"""voice: one row per call that reached the media websocket (hand-off, outcome, stats)

Revision ID: 0004_voice
Revises: 0003_payments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_voice"
down_revision: str | Sequence[str] | None = "0003_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stream_sid", sa.String(length=64), nullable=True),
        sa.Column("handoff", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_voice_calls_call_sid")),
    )
    op.create_index(op.f("ix_voice_calls_conversation_id"), "voice_calls", ["conversation_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_voice_calls_conversation_id"), table_name="voice_calls")
    op.drop_table("voice_calls")
