"""Business hours and holidays: is the line open at `now`, in the flow's time zone?"""

from __future__ import annotations

from datetime import datetime
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
