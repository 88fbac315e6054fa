"""What a figures request asks for: a period, how to group it, and filters, validated.

Every problem is reported with the parameter, the value and what is accepted, so the
web layer can answer 400 with the message as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

GroupBy = Literal["total", "day", "week", "month", "agent", "did"]
GROUPS: tuple[str, ...] = get_args(GroupBy)
# Internal: one group per DID and agent (the rows pre-aggregated per day).
Grouping = GroupBy | Literal["did_agent"]
# Measured on 1M calls (README, dashboard_queries): a quarter is the longest range every
# query answers in about the target; longer ranges need pre-aggregated tables.
MAX_RANGE_DAYS = 92
DEFAULT_MIN_TALK_S = 60
MAX_MIN_TALK_S = 3600


class BadRequest(ValueError):
    """A figures request that cannot be answered; the message says why."""


@dataclass(frozen=True)
class StatsQuery:
    since: datetime  # inclusive, UTC midnight
    until: datetime  # exclusive, UTC midnight
    group_by: Grouping = "total"
    agent: str | None = None
    did: str | None = None
    min_talk_s: int = DEFAULT_MIN_TALK_S  # whole seconds (talk is counted to the second)

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since.date().isoformat(),
            "until": (self.until - timedelta(days=1)).date().isoformat(),
            "group_by": self.group_by,
            "agent": self.agent,
            "did": self.did,
            "min_talk_s": self.min_talk_s,
        }


def _day(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} = {value!r}: must be a date like 2026-11-27") from None


def parse_query(
    params: Mapping[str, str], *, today: date, max_days: int = MAX_RANGE_DAYS
) -> StatsQuery:
    """`since` and `until` are days, both included (default: the last 7 days to today)."""
    known = {"since", "until", "group_by", "agent", "did", "min_talk_s"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadRequest(
            f"unknown parameter {unknown[0]!r}: accepted are {', '.join(sorted(known))}"
        )
    last = _day("until", params["until"]) if "until" in params else today
    first = _day("since", params["since"]) if "since" in params else last - timedelta(days=6)
    if first > last:
        raise BadRequest(f"since = {first} is after until = {last}: since must come first")
    days = (last - first).days + 1
    if days > max_days:
        raise BadRequest(
            f"the range {first} to {last} is {days} days: at most {max_days} days at once"
        )
    group_by = params.get("group_by", "total")
    if group_by not in GROUPS:
        raise BadRequest(f"group_by = {group_by!r}: must be one of {', '.join(GROUPS)}")
    min_talk = params.get("min_talk_s", str(DEFAULT_MIN_TALK_S))
    min_talk_s = int(min_talk) if min_talk.isdigit() and len(min_talk) < 6 else -1
    if not 0 <= min_talk_s <= MAX_MIN_TALK_S:
        raise BadRequest(
            f"min_talk_s = {min_talk!r}: must be whole seconds from 0 to {MAX_MIN_TALK_S}"
        )
    agent = params.get("agent") or None
    did = params.get("did") or None
    for name, value in (("agent", agent), ("did", did)):
        if value is not None and len(value) > 80:
            raise BadRequest(f"{name} is at most 80 characters, got {len(value)}")
    return StatsQuery(
        since=datetime.combine(first, datetime.min.time(), UTC),
        until=datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC),
        group_by=group_by,  # type: ignore[arg-type]
        agent=agent,
        did=did,
        min_talk_s=min_talk_s,
    )
