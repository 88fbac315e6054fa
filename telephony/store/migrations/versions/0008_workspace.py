"""The agent's workspace: what the agent typed about a call (fields, notes, outcome,
next step) and about a caller (name, needs), each agent's language, and the index
behind the screen pop's history lookup (a number's newest calls first).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_notes",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("lost_reason", sa.String(200), nullable=True),
        sa.Column("next_step", sa.String(200), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('offer_made', 'pending_purchase', 'sale', 'lost')",
            name=op.f("ck_call_notes_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_notes_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_notes")),
    )
    op.create_table(
        "contact_notes",
        sa.Column("number_e164", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("number_e164", name=op.f("pk_contact_notes")),
    )
    op.create_table(
        "user_prefs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_prefs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_prefs")),
    )
    # The pop's history: one number's newest calls, read from the index in order.
    op.create_index(
        op.f("ix_calls_caller_number_arrived_at"), "calls", ["caller_number", "arrived_at"]
    )
    # The pop's open callback promises of a number.
    op.create_index(op.f("ix_callbacks_number"), "callbacks", ["number"])


def downgrade() -> None:
    op.drop_index(op.f("ix_callbacks_number"), table_name="callbacks")
    op.drop_index(op.f("ix_calls_caller_number_arrived_at"), table_name="calls")
    op.drop_table("user_prefs")
    op.drop_table("contact_notes")
    op.drop_table("call_notes")
