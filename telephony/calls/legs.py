"""ARI operations every call uses, inbound or outbound, each safe to repeat: a retry
after a lost answer finds the channel or bridge already made and goes on."""

from __future__ import annotations

import contextlib

import structlog

from telephony.ari import AriRest, Conflict
from telephony.ari.stasis import until_in_stasis

log = structlog.get_logger("telephony.calls")

# Dial statuses that end a leg before it was answered.
DIAL_ENDED = frozenset(
    {"BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION", "CANCEL", "DONTCALL", "TORTURE"}
)


async def create_and_dial(
    rest: AriRest,
    *,
    app: str,
    endpoint: str,
    channel_id: str,
    app_args: str,
    originator: str | None = None,
    variables: dict[str, str] | None = None,
) -> None:
    """A leg with our own channel id, in our app, dialled."""
    with contextlib.suppress(Conflict):  # made by an earlier try whose answer was lost
        await rest.create_channel(
            endpoint,
            app=app,
            app_args=app_args,
            channel_id=channel_id,
            originator=originator,
            variables=variables,
        )
    await until_in_stasis(lambda: rest.dial(channel_id))


# Media always through Asterisk: a plain mixing bridge of two RTP channels starts as a
# native RTP bridge and switches to a simple one when the call's recording (a snoop)
# attaches; the far phone then gets audio with a sequence-number jump (seen: 1762 ->
# 61506) and drops it as late, and one side hears silence (found by the IVR's two-way
# audio test; 1 run in 4 for an IVR caller, now and then for any call).
CALL_BRIDGE = "mixing,proxy_media"


async def bridge_together(rest: AriRest, bridge_id: str, channel_ids: list[str]) -> None:
    with contextlib.suppress(Conflict):  # made by an earlier try whose answer was lost
        await rest.create_bridge(type=CALL_BRIDGE, bridge_id=bridge_id, name=bridge_id)
    await rest.add_channel(bridge_id, channel_ids)
