"""IVR: call flows per DID, versioned (each save a new version, with who and when), and
the IVR part of each call (path, keys, tags, language, time spent, where it went).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ivr_flows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("flow", sa.JSON(), nullable=True),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_flows")),
    )
    op.create_index(op.f("ix_ivr_flows_did_version"), "ivr_flows", ["did", "version"], unique=True)
    op.create_table(
        "ivr_runs",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=True),
        sa.Column("caller_number", sa.String(16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("keys", sa.String(64), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_ivr_runs")),
    )
    op.create_index(op.f("ix_ivr_runs_started_at"), "ivr_runs", ["started_at"])
    op.create_index(op.f("ix_ivr_runs_did_started_at"), "ivr_runs", ["did", "started_at"])


def downgrade() -> None:
    op.drop_table("ivr_runs")
    op.drop_table("ivr_flows")
