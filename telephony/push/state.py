"""The push side of one service, as the web app sees it: the hub, the pops, the live view.

A web app without a call engine (web-only tests) gets `Push.empty()`: a hub with no
publisher, snapshots with no calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telephony.push.hub import Hub
from telephony.push.live import LiveView
from telephony.push.pops import Pops
from telephony.store.history import CallerContext

MAX_QUEUE = 256  # messages a browser may be behind before it is disconnected
REVALIDATE_S = 30.0


@dataclass
class Push:
    hub: Hub
    pops: Pops
    live: LiveView
    agent_state: Callable[[str], dict[str, Any] | None]
    max_queue: int = MAX_QUEUE
    # How often an open socket checks that its session still exists (logout, expiry).
    revalidate_s: float = REVALIDATE_S

    @classmethod
    def empty(cls, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Push:
        hub = Hub()

        async def nothing(number: str | None, call_id: str) -> CallerContext:
            return CallerContext(number)

        return cls(
            hub=hub,
            pops=Pops(hub, nothing, clock=clock),
            live=LiveView(hub, live_calls=list, agents=list, clock=clock),
            agent_state=lambda agent_id: None,
        )
