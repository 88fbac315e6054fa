"""Agents, contacts and calls.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number_e164", sa.String(16), nullable=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("number_e164", name=op.f("uq_contacts_number_e164")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("caller_number_raw", sa.String(80), nullable=False),
        sa.Column("caller_number", sa.String(16), nullable=True),
        sa.Column("caller_name", sa.String(80), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("caller_channel_id", sa.String(128), nullable=False),
        sa.Column("agent_channel_id", sa.String(128), nullable=True),
        sa.Column("bridge_id", sa.String(128), nullable=True),
        sa.Column("recording_name", sa.String(255), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("hangup_by", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_calls_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_calls_agent_id_agents")),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('answered', 'abandoned', 'no_agent', 'failed')",
            name=op.f("ck_calls_outcome"),
        ),
        sa.CheckConstraint(
            "hangup_by IS NULL OR hangup_by IN ('caller', 'agent', 'system')",
            name=op.f("ck_calls_hangup_by"),
        ),
    )
    op.create_index(op.f("ix_calls_arrived_at"), "calls", ["arrived_at"])
    op.create_index(op.f("ix_calls_caller_number"), "calls", ["caller_number"])
    op.create_index(op.f("ix_calls_ended_at"), "calls", ["ended_at"])


def downgrade() -> None:
    op.drop_table("calls")
    op.drop_table("contacts")
    op.drop_table("agents")
