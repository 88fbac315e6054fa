"""Business hours and holidays: is the line open at `now`, in the flow's time zone?"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from telephony.ivr.flow import WEEKDAYS, HoursNode


def is_open(node: HoursNode, now: datetime, zone: ZoneInfo) -> bool:
    """Open spans are [start, end) in local time; a holiday closes the whole local day."""
    local = now.astimezone(zone)
    if local.date() in node.holidays:
        return False
    day = WEEKDAYS[local.weekday()]
    clock = local.strftime("%H:%M")
    return any(day in span.days and span.start <= clock < span.end for span in node.open_spans)


def next_open(node: HoursNode, now: datetime, zone: ZoneInfo, horizon_days: int = 14) -> datetime:
    """`now` if open, else when the line next opens (within `horizon_days`; past that,
    `now`: a line that never opens has its callbacks due at once, for people to see)."""
    if is_open(node, now, zone):
        return now
    local = now.astimezone(zone)
    for offset in range(horizon_days + 1):
        day = local.date() + timedelta(days=offset)
        if day in node.holidays:
            continue
        weekday = WEEKDAYS[day.weekday()]
        starts = sorted(
            span.start for span in node.open_spans if weekday in span.days and span.start != "24:00"
        )
        for start in starts:
            hour, minute = (int(part) for part in start.split(":"))
            opening = datetime.combine(day, time(hour, minute), tzinfo=zone)
            if opening > local:
                return opening.astimezone(now.tzinfo)
    return now
