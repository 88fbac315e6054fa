"""A bare SIP user agent over UDP for attacks a well-behaved Asterisk would never send:
INVITEs from an unknown address, with made-up credentials. Just enough SIP to send an
INVITE, read the answers and acknowledge (ACK) or cancel (CANCEL) it."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import cast


@dataclass
class Invite:
    """One INVITE transaction and the status codes the PBX answered it with."""

    to_user: str
    from_user: str
    branch: str = field(default_factory=lambda: "z9hG4bK" + secrets.token_hex(8))
    call_id: str = field(default_factory=lambda: secrets.token_hex(12))
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    codes: list[int] = field(default_factory=list)
    final: asyncio.Future[tuple[int, str]] | None = None


class RawSip(asyncio.DatagramProtocol):
    def __init__(self, local_host: str, target: tuple[str, int]) -> None:
        self.local_host = local_host
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self._open: dict[str, Invite] = {}

    @classmethod
    async def bind(cls, local_host: str, target: tuple[str, int]) -> RawSip:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(local_host, target), local_addr=(local_host, 0)
        )
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode("utf-8", "replace")
        first, _, _ = text.partition("\r\n")
        if not first.startswith("SIP/2.0 "):
            return  # a request to us (e.g. OPTIONS): ignored
        code = int(first.split()[1])
        invite = self._open.get(_header(text, "Call-ID"))
        if invite is None or _header(text, "CSeq").split()[-1:] != ["INVITE"]:
            return
        invite.codes.append(code)
        if code >= 200 and invite.final is not None and not invite.final.done():
            invite.final.set_result((code, _header(text, "To")))

    async def invite(
        self, to_user: str, from_user: str, *, authorization: str = "", timeout: float = 5.0
    ) -> Invite:
        """Send an INVITE and wait for its final answer; a provisional-only answer is
        cancelled (so nothing rings on), a final one is acknowledged."""
        invite = Invite(to_user, from_user)
        invite.final = asyncio.get_running_loop().create_future()
        self._open[invite.call_id] = invite
        self._send(self._request("INVITE", invite, authorization=authorization, sdp=True))
        try:
            code, to = await asyncio.wait_for(asyncio.shield(invite.final), timeout)
        except TimeoutError:
            self._send(self._request("CANCEL", invite))
            code, to = await asyncio.wait_for(invite.final, timeout)
        if code >= 300:
            self._send(self._request("ACK", invite, to_header=to))
        return invite

    def _send(self, text: str) -> None:
        assert self.transport is not None
        self.transport.sendto(text.encode(), self.target)

    def _request(
        self,
        method: str,
        invite: Invite,
        *,
        authorization: str = "",
        sdp: bool = False,
        to_header: str = "",
    ) -> str:
        host, port = self.target
        uri = f"sip:{invite.to_user}@{host}:{port}"
        body = _sdp(self.local_host) if sdp else ""
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local_host}:{self.port};branch={invite.branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{invite.from_user}@{self.local_host}>;tag={invite.tag}",
            f"To: {to_header or f'<{uri}>'}",
            f"Call-ID: {invite.call_id}",
            f"CSeq: 1 {method}",
            f"Contact: <sip:{invite.from_user}@{self.local_host}:{self.port}>",
            "User-Agent: toll-fraud-probe",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body


def _header(text: str, name: str) -> str:
    for line in text.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def _sdp(host: str) -> str:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
