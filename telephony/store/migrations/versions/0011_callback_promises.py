"""Callback promises: "I'll call you back in 15 minutes", a callback task promised on
a call, with a note.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(
            sa.Column("promise", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("note", sa.String(500), nullable=True))
        batch.add_column(sa.Column("call_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("call_id")
        batch.drop_column("note")
        batch.drop_column("promise")
