"""Rings per call (cadence, ring at answer or abandon, escalations) and agent attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("cadence", sa.String(32), nullable=True))
        batch.add_column(sa.Column("max_rings", sa.Float(), nullable=True))
        batch.add_column(sa.Column("answered_ring", sa.Float(), nullable=True))
        batch.add_column(sa.Column("abandoned_ring", sa.Float(), nullable=True))
        batch.add_column(sa.Column("system_answered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalations", sa.JSON(), nullable=True))
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempts")),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_attempts_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_call_attempts_agent_id_agents")
        ),
        sa.CheckConstraint(
            "outcome IN ('answered', 'no_answer', 'busy', 'rejected', 'unreachable', 'cancelled')",
            name=op.f("ck_call_attempts_outcome"),
        ),
    )
    op.create_index(op.f("ix_call_attempts_call_id"), "call_attempts", ["call_id"])
    op.create_index(op.f("ix_call_attempts_agent_id"), "call_attempts", ["agent_id"])


def downgrade() -> None:
    op.drop_table("call_attempts")
    with op.batch_alter_table("calls") as batch:
        for column in (
            "escalations",
            "system_answered_at",
            "abandoned_ring",
            "answered_ring",
            "max_rings",
            "cadence",
        ):
            batch.drop_column(column)
