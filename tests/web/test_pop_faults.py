"""A pop leaves whatever goes wrong beside it: a script choice that raises (a bad setup,
code that disagrees with the store) costs the script, never the pop; and the metrics
hear of each call's first pop once."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from telephony.push.hub import Connection, Hub
from telephony.push.pops import Pops, agent_topic
from telephony.store.history import CallerContext

from .conftest import T0
from .test_push_ws import call_snapshot


class BrokenScripts:
    """Every use raises, as a script source out of step with the code would."""

    def pick(self, *args: Any) -> Any:
        raise AttributeError("'CallScripts' object has no attribute 'decided'")

    def decided(self, *args: Any) -> None:
        raise AttributeError("broken")


async def test_a_failing_script_choice_does_not_hold_back_the_pop() -> None:
    hub = Hub()

    async def look_up(number: str | None, call_id: str) -> CallerContext:
        return CallerContext(number)

    pops = Pops(hub, look_up, clock=lambda: T0)
    pops.scripts = BrokenScripts()  # type: ignore[assignment]
    firsts: list[tuple[datetime, datetime]] = []
    pops.on_first_pop = lambda arrived, sent: firsts.append((arrived, sent))
    got: list[dict[str, Any]] = []

    async def send(text: str) -> None:
        got.append(json.loads(text))

    connection = Connection("alice", send)
    connection.keep(hub.subscribe(agent_topic("alice"), connection))
    run = asyncio.create_task(connection.run())
    pops.on_snapshot(call_snapshot(offered_to=("alice",)))
    await asyncio.sleep(0.01)
    pops.on_snapshot(call_snapshot(offered_to=("alice", "bob")))
    await asyncio.sleep(0.01)
    assert [m["type"] for m in got] == ["pop"]
    assert got[0]["pop"]["script"] is None and got[0]["pop"]["history_ready"] is True
    assert len(firsts) == 1
    connection.close()
    await run
