"""Outbound callback tasks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("last_rings", sa.Float(), nullable=True),
        sa.Column("last_call_id", sa.String(64), nullable=True),
        sa.Column("handled_by", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'calling', 'done', 'failed', 'cancelled')",
            name=op.f("ck_callbacks_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    op.create_index(op.f("ix_callbacks_status_due_at"), "callbacks", ["status", "due_at"])
    op.create_index(op.f("ix_callbacks_agent_id"), "callbacks", ["agent_id"])


def downgrade() -> None:
    op.drop_table("callbacks")
