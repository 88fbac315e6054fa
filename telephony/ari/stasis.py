"""Requests on a channel that is still entering Stasis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telephony.ari.errors import Conflict


async def until_in_stasis(
    request: Callable[[], Awaitable[object]], *, attempts: int = 40, pause: float = 0.025
) -> None:
    """Straight after `/channels/create` or a snoop, Asterisk can answer 409 "Channel not
    in Stasis application" for a few milliseconds: try again briefly before giving up."""
    for _ in range(attempts - 1):
        try:
            await request()
            return
        except Conflict:
            await asyncio.sleep(pause)
    await request()
