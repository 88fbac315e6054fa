"""The PBX under test and the "world" Asterisk around it, talking SIP over loopback.

The world plays the carrier (it places callers' calls to the PBX's DIDs) and the
agents' desk phones (the PBX dials `PJSIP/agentNNNN`, which reaches extension NNNN
on the world). Each side is a separate Asterisk process with its own ARI.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from telephony.sandbox.instance import (
    AsteriskInstall,
    AsteriskInstance,
    find_install,
    prune_old_homes,
)

PBX_APP = "thirdring"
WORLD_APP = "world"


def agent_endpoint(extension: str) -> str:
    """The PBX's dial string for the desk phone with this extension."""
    return f"PJSIP/agent{extension}"


def _agent_endpoints(extensions: Sequence[str], world_sip_port: int) -> str:
    blocks = []
    for ext in extensions:
        blocks.append(
            f"[agent{ext}]\ntype = endpoint\ncontext = from-agents\ndisallow = all\n"
            f"allow = ulaw\ndirect_media = no\nrtp_symmetric = yes\naors = agent{ext}\n\n"
            f"[agent{ext}]\ntype = aor\ncontact = sip:{ext}@127.0.0.1:{world_sip_port}\n"
        )
    return "\n".join(blocks)


def _rtp_range() -> tuple[str, str]:
    # Separate ranges keep concurrent sandboxes (tests beside a demo) from colliding.
    start = random.randrange(20000, 58000, 1000)
    return str(start), str(start + 998)


@dataclass
class Sandbox:
    """Start with `start()`, stop with `stop()`; a context manager too."""

    phone_extensions: Sequence[str] = ("2001", "2002", "2003")
    pbx_app: str = PBX_APP
    fallback_timeout_s: int = 20
    install: AsteriskInstall | None = None
    pbx: AsteriskInstance = field(init=False)
    world: AsteriskInstance = field(init=False)

    def __post_init__(self) -> None:
        install = self.install or find_install()
        self.pbx = AsteriskInstance(install, role="pbx", name="pbx", values={})
        self.world = AsteriskInstance(install, role="world", name="world", values={})
        pbx_rtp, world_rtp = _rtp_range(), _rtp_range()
        self.pbx.values.update(
            app=self.pbx_app,
            peer_host="127.0.0.1",
            peer_sip_port=str(self.world.sip_port),
            agent_endpoints=_agent_endpoints(self.phone_extensions, self.world.sip_port),
            fallback_dial="&".join(agent_endpoint(e) for e in self.phone_extensions),
            fallback_timeout=str(self.fallback_timeout_s),
            rtp_start=pbx_rtp[0],
            rtp_end=pbx_rtp[1],
        )
        self.world.values.update(
            app=WORLD_APP,
            peer_host="127.0.0.1",
            peer_sip_port=str(self.pbx.sip_port),
            rtp_start=world_rtp[0],
            rtp_end=world_rtp[1],
        )

    def start(self, *, tied: bool = True) -> Sandbox:
        """Start both; `tied=False` lets them outlive this process (`sandbox up --detach`)."""
        prune_old_homes(self.pbx.install.host_path(self.pbx.home).parent)
        self.pbx.start(tied=tied)
        try:
            self.world.start(tied=tied)
        except BaseException:
            self.pbx.stop()
            raise
        return self

    def stop(self) -> None:
        self.world.stop()
        self.pbx.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
