"""merge the voice, outreach, outbound-call, payment-plan and console branches into one head

Revision ID: 0009_merge_feature_branches
Revises: 0004_voice, 0005_outreach, 0006_outbound_calls, 0007_payment_plans, 0008_console_users
"""

from collections.abc import Sequence

revision: str = "0009_merge_feature_branches"
down_revision: str | Sequence[str] | None = (
    "0004_voice",
    "0005_outreach",
    "0006_outbound_calls",
    "0007_payment_plans",
    "0008_console_users",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches touch disjoint tables; this only joins them into one head."""


def downgrade() -> None:
    """Nothing to undo."""
