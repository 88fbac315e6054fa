"""Statistics: the figures also pre-aggregated per closed ISO week (stats_weekly, built
from the stored days when first read), and the stored rows' talk and scripts in a
format that merges faster: talk as each call's whole seconds, sorted, packed (32-bit
little-endian, base64; telephony.stats.stored) instead of a {seconds: calls}
histogram; scripts as {"key|version|variant": [calls per measure]} instead of one
"key|version|variant|measure" entry per measure. The stored days are converted in
place (the same figures, another shape).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

import sys
from array import array
from base64 import b64decode, b64encode
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The order of telephony.stats.figures.SCRIPT_MEASURES when this was written.
_MEASURES = ("calls", "offers", "pending", "sales", "next_steps", "lost")
_SECONDS = next(code for code in "IL" if array(code).itemsize == 4)
_daily = sa.table(
    "stats_daily",
    sa.column("day", sa.String),
    sa.column("did", sa.String),
    sa.column("agent_id", sa.String),
    sa.column("figures", sa.JSON),
)


def _to_lists(old: dict[str, Any]) -> dict[str, Any]:
    new = {k: v for k, v in old.items() if k not in ("talk_s_counts", "script_outcomes")}
    talk: list[int] = []
    for seconds, calls in old.get("talk_s_counts", {}).items():
        talk.extend([int(seconds)] * calls)
    if talk:
        packed = array(_SECONDS, sorted(talk))
        if sys.byteorder == "big":
            packed.byteswap()
        new["talk_s"] = b64encode(packed.tobytes()).decode("ascii")
    scripts: dict[str, list[int]] = {}
    for name, calls in old.get("script_outcomes", {}).items():
        variant, _, measure = name.rpartition("|")
        scripts.setdefault(variant, [0] * len(_MEASURES))[_MEASURES.index(measure)] += calls
    if scripts:
        new["scripts"] = scripts
    return new


def _to_counts(new: dict[str, Any]) -> dict[str, Any]:
    old = {k: v for k, v in new.items() if k not in ("talk_s", "scripts")}
    counts: dict[str, int] = {}
    packed = array(_SECONDS, b64decode(new.get("talk_s", "")))
    if sys.byteorder == "big":
        packed.byteswap()
    for seconds in packed:
        counts[str(seconds)] = counts.get(str(seconds), 0) + 1
    if counts:
        old["talk_s_counts"] = counts
    outcomes = {
        f"{variant}|{measure}": calls
        for variant, row in new.get("scripts", {}).items()
        for measure, calls in zip(_MEASURES, row, strict=True)
    }
    if outcomes:
        old["script_outcomes"] = outcomes
    return old


def _convert(shape: Any) -> None:
    """Every stored day's rows, one day at a time (a day is a few hundred rows)."""
    bind = op.get_bind()
    days = bind.execute(sa.select(_daily.c.day).distinct()).scalars().all()
    update = (
        sa.update(_daily)
        .where(
            _daily.c.day == sa.bindparam("d"),
            _daily.c.did == sa.bindparam("i"),
            _daily.c.agent_id == sa.bindparam("a"),
        )
        .values(figures=sa.bindparam("f"))
    )
    for day in days:
        rows = bind.execute(sa.select(_daily).where(_daily.c.day == day)).all()
        bind.execute(
            update,
            [{"d": r.day, "i": r.did, "a": r.agent_id, "f": shape(r.figures)} for r in rows],
        )


def upgrade() -> None:
    op.create_table(
        "stats_weekly",
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("did", sa.String(80), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("week", "did", "agent_id", name=op.f("pk_stats_weekly")),
    )
    _convert(_to_lists)


def downgrade() -> None:
    _convert(_to_counts)
    op.drop_table("stats_weekly")
