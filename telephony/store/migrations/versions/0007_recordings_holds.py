"""Recordings (one per answered call, checked after the call), holds, and the audit
of what people did with recordings (pause, playback, download, purge).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("path", sa.String(255), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expected_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.Column("pauses", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('recording', 'complete', 'missing', 'short', 'silent', 'failed', 'purged')",
            name=op.f("ck_recordings_status"),
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("token", name=op.f("uq_recordings_token")),
    )
    op.create_index(op.f("ix_recordings_status"), "recordings", ["status"])
    op.create_index(op.f("ix_recordings_retain_until"), "recordings", ["retain_until"])
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("over_limit", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_holds_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index(op.f("ix_holds_call_id"), "holds", ["call_id"])
    op.create_index(op.f("ix_holds_agent_id_started_at"), "holds", ["agent_id", "started_at"])
    op.create_table(
        "recording_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_audit")),
    )
    op.create_index(op.f("ix_recording_audit_call_id"), "recording_audit", ["call_id"])


def downgrade() -> None:
    op.drop_table("recording_audit")
    op.drop_table("holds")
    op.drop_table("recordings")
