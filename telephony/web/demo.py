"""Demo controls for a desk phone the world simulates (`make demo` only).

`GET /api/demo/phone` says whether they exist (`{"enabled": false}` outside the demo);
`POST /api/demo/phone/answer|hangup` answers or hangs up the logged-in agent's own
simulated desk phone. The page marks them clearly as demo controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from telephony.auth.roles import ANY_ROLE
from telephony.web.access import current_session, requires


class DemoPhone(Protocol):
    async def answer(self, agent_id: str) -> str: ...

    async def hangup(self, agent_id: str) -> str: ...


@dataclass
class DemoSlot:
    phone: DemoPhone | None = None


DEMO_KEY = web.AppKey("demo_phone", DemoSlot)


def add_demo_routes(app: web.Application) -> None:
    app[DEMO_KEY] = DemoSlot()
    app.router.add_get("/api/demo/phone", demo_state)
    app.router.add_post("/api/demo/phone/{action}", demo_action)


@requires(*ANY_ROLE)
async def demo_state(request: web.Request) -> web.Response:
    enabled = request.app[DEMO_KEY].phone is not None
    return web.json_response({"enabled": enabled and current_session(request).agent_id is not None})


@requires("agent")
async def demo_action(request: web.Request) -> web.Response:
    phone = request.app[DEMO_KEY].phone
    agent_id = current_session(request).agent_id
    action = request.match_info["action"]
    if phone is None or agent_id is None:
        return web.json_response({"error": "demo controls exist only in make demo"}, status=404)
    if action == "answer":
        return web.json_response({"result": await phone.answer(agent_id)})
    if action == "hangup":
        return web.json_response({"result": await phone.hangup(agent_id)})
    return web.json_response({"error": "action: must be answer or hangup"}, status=404)
