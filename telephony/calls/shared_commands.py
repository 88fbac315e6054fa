"""The commands inbound calls and callbacks carry out alike (agents, hangups, music,
bridges, timers); each side's executor handles the rest and its own error mapping."""

from __future__ import annotations

import contextlib
from typing import Final, Protocol

from telephony.ari import AriRest, Conflict
from telephony.calls.presence import AgentPresence
from telephony.calls.timers import SessionTimers
from telephony.policy import messages as m


class TimedSession(Protocol):
    call_id: str
    timers: SessionTimers


class NotShared:
    """`run_shared` left the command to the caller."""


NOT_SHARED: Final = NotShared()


async def run_shared(
    rest: AriRest, presence: AgentPresence, session: TimedSession, command: object
) -> m.CallEvent | NotShared | None:
    match command:
        case m.ReserveAgents():
            slots = presence.pool.reserve(
                session.call_id,
                command.exclude,
                limit=command.limit,
                strategy=command.strategy,
                prefer=command.prefer,
                group=command.group,
            )
            if not slots:
                return m.NoAgentAvailable()
            offers = (m.AgentOffer(agent_id=s.agent_id, endpoint=s.endpoint) for s in slots)
            return m.AgentsReserved(agents=tuple(offers))
        case m.ReleaseAgent(agent_id=agent, missed=missed, pause=pause):
            await presence.released(agent, missed=missed, pause=pause)
        case m.HangupChannel(channel_id=channel, reason=reason):
            await rest.hangup(channel, reason=reason)
        case m.DestroyBridge(bridge_id=bridge):
            await rest.destroy_bridge(bridge)
        case m.StartMoh(channel_id=channel, moh_class=moh_class):
            await rest.start_moh(channel, moh_class)
        case m.StopMoh(channel_id=channel):
            with contextlib.suppress(Conflict):  # no music playing: stopped already
                await rest.stop_moh(channel)
        case m.StartTimer(key=key, at=at):
            session.timers.start(key, at)
        case m.CancelTimer(key=key):
            session.timers.cancel(key)
        case _:
            return NOT_SHARED
    return None
