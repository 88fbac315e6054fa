"""Scripts: versions (drafts edited in place, published ones immutable), releases in
weighted A/B variants, campaigns (DIDs of one advert) and ordered matching rules, and
the script each call got with the agent's marks on it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scripts",
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_by", sa.String(64), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_scripts")),
    )
    op.create_table(
        "script_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'retired')", name=op.f("ck_script_versions_status")
        ),
        sa.ForeignKeyConstraint(
            ["key"],
            ["scripts.key"],
            name=op.f("fk_script_versions_key_scripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_versions")),
    )
    op.create_index(
        op.f("ix_script_versions_key_version"), "script_versions", ["key", "version"], unique=True
    )
    op.create_table(
        "script_releases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key"],
            ["scripts.key"],
            name=op.f("fk_script_releases_key_scripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_releases")),
    )
    op.create_index(op.f("ix_script_releases_key"), "script_releases", ["key"])
    op.create_table(
        "script_campaigns",
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("dids", sa.JSON(), nullable=False),
        sa.Column("script", sa.String(40), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_script_campaigns")),
    )
    op.create_table(
        "script_rules",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("when", sa.JSON(), nullable=False),
        sa.Column("script", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_script_rules")),
    )
    op.create_table(
        "call_scripts",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(4), nullable=False),
        sa.Column("campaign", sa.String(40), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_scripts")),
    )
    op.create_index(op.f("ix_call_scripts_key_assigned_at"), "call_scripts", ["key", "assigned_at"])


def downgrade() -> None:
    op.drop_table("call_scripts")
    op.drop_table("script_rules")
    op.drop_table("script_campaigns")
    op.drop_table("script_releases")
    op.drop_table("script_versions")
    op.drop_table("scripts")
