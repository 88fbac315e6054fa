"""Statistics: a covering index for the figures' period scans of calls, the figures
pre-aggregated per closed day, DID and agent, ad spend per source (DID) and month, and
QA grading (versioned forms, grades kept as revisions).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATS_COLUMNS = [
    "arrived_at",
    "did",
    "agent_id",
    "ended_at",
    "answered_at",
    "outcome",
    "answered_ring",
    "max_rings",
    "abandoned_ring",
    "system_answered_at",
]


def upgrade() -> None:
    op.create_index(op.f("ix_calls_stats"), "calls", _STATS_COLUMNS)
    op.create_table(
        "stats_days",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_stats_days")),
    )
    op.create_table(
        "stats_daily",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day", "did", "agent_id", name=op.f("pk_stats_daily")),
    )
    op.create_table(
        "ad_spend",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_ad_spend_amount")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_spend")),
    )
    op.create_index(op.f("ix_ad_spend_did_month"), "ad_spend", ["did", "month"], unique=True)
    op.create_table(
        "grading_forms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grading_forms")),
    )
    op.create_index(op.f("ix_grading_forms_version"), "grading_forms", ["version"], unique=True)
    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("yes", sa.Integer(), nullable=False),
        sa.Column("asked", sa.Integer(), nullable=False),
        sa.Column("mystery", sa.Boolean(), nullable=False),
        sa.Column("scenario", sa.String(200), nullable=False),
        sa.Column("comment", sa.String(1000), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grades")),
    )
    op.create_index(
        op.f("ix_grades_call_id_revision"), "grades", ["call_id", "revision"], unique=True
    )
    op.create_index(op.f("ix_grades_agent_id_at"), "grades", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_table("grades")
    op.drop_table("grading_forms")
    op.drop_table("ad_spend")
    op.drop_table("stats_daily")
    op.drop_table("stats_days")
    op.drop_index(op.f("ix_calls_stats"), table_name="calls")
