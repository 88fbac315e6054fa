"""Attacker-controlled input over real SIP, counted (issue 9): hostile Caller IDs on the
carrier trunk reach the service and are stored as text; INVITEs from an unknown peer
trying to reach an outside number (toll fraud) are refused by the PBX before any
dialplan runs. Result lines ("tried N, crashed 0, leaked 0") print after the run."""

from __future__ import annotations

import random
import unicodedata

import structlog

from telephony.ari.rest import AriRest
from telephony.sandbox.pair import Sandbox
from telephony.world.controller import Leg, PhoneBehaviour, World
from tests.bad_input import report

from .conftest import StartService, eventually, set_phones
from .sip_raw import RawSip

DID = "908501234567"
PHONES = tuple(str(2001 + i) for i in range(20))
BATCH = 20

NAMES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "' OR 1=1 --",
    '"; DROP TABLE calls; --',
    "Robert'); DELETE FROM calls;--",
    "\u202eevil\u202c",
    "\u2066Ali\u2069 \u200f",
    "%s%s%s%n",
    "{caller.name}",
    "${CALLERID(num)}",
    "$(reboot)",
    "`id`",
    "\\",
    '"',
    '""',
    '\\"',
    "a" * 255,
    "Ş" * 120,
    "😀" * 40,
    "\x07bell\x1b[31mred",
    "tab\there",
    "javascript:alert(1)",
    "../../../etc/passwd",
    "<",
    ">",
    "&amp;&lt;",
    "Ayşe Yılmaz",
    "ماريا",
    "Zürich Ünal",
    "",
    " ",
    "NULL",
    "undefined",
    "0",
    "-1",
    "1e308",
    "\ufeffBOM",
    "A\u0301\u0301\u0301\u0301",
    "‮",
    "\\x00",
]
NUMBERS = [
    "",
    "anonymous",
    "+",
    "++905551112233",
    "0" * 40,
    "+905551112233",
    "05551112233",
    "905551112233",
    "abc",
    "1234567890123456789012345",
    "+90-555-111-22-33",
    "*#",
    "+90555<b>1</b>",
    "1e10",
    "-1",
    "0x1F",
    "%00",
    "+1 (900) 555-0100",
    "+4420794600000000000000",
    "unknown",
    "restricted",
    "2001",
    "s",
    "+905551112233;ext=1",
    "0090555111223344",
]


def hostile_caller_ids(n: int) -> list[tuple[str, str]]:
    """Every name and every number at least once, then seeded random pairs."""
    rng = random.Random(9)
    pairs = [(NUMBERS[i % len(NUMBERS)], name) for i, name in enumerate(NAMES)]
    pairs += [(number, NAMES[i % len(NAMES)]) for i, number in enumerate(NUMBERS)]
    while len(pairs) < n:
        pairs.append((rng.choice(NUMBERS), rng.choice(NAMES)))
    return pairs[:n]


async def test_200_hostile_caller_ids_over_real_sip_are_stored_as_text(
    world: World, start_service: StartService
) -> None:
    calls = hostile_caller_ids(200)
    service = await start_service(max_wait_s=60)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False), PHONES)
    reached = refused = 0
    with structlog.testing.capture_logs() as logs:
        for start in range(0, len(calls), BATCH):
            legs: list[Leg] = [
                await world.call(DID, number, name, tone_hz=None, listen=False)
                for number, name in calls[start : start + BATCH]
            ]

            async def settled(legs: list[Leg] = legs) -> bool:
                return all(leg.rang.is_set() or leg.ended.is_set() for leg in legs)

            await eventually(settled, timeout=20, what="each hostile caller rung or refused")
            reached += sum(1 for leg in legs if not leg.ended.is_set())
            refused += sum(1 for leg in legs if leg.ended.is_set())
            for leg in legs:
                await world.hangup(leg)

            async def closed() -> bool:
                runtime = service.runtime
                # An ended call's rows may still be on their way to the store.
                if runtime.live_calls() or runtime.writes_pending():
                    return False
                return not await runtime.store.open_calls()

            await eventually(closed, timeout=20, what="the batch's calls closed")
    failures = [e for e in logs if e.get("log_level") in ("error", "critical")]
    stored = await service.runtime.store.recent_calls(limit=500)
    unprintable = [
        c.caller_name
        for c in stored
        if len(c.caller_name) > 80
        or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in c.caller_name)
    ]
    still_up = (await service.health()).get("ari") == "connected"
    leaked = len(await service.runtime.store.open_calls()) + len(unprintable)
    crashed = len(failures) + (0 if still_up else 1)
    report("hostile caller ids (real SIP)", tried=len(calls), crashed=crashed, leaked=leaked)
    assert (crashed, leaked) == (0, 0), (failures[:3], unprintable[:3])
    assert reached == len(stored) and reached + refused == len(calls)
    assert reached >= 190  # the world's Asterisk carries nearly all of them


OUTSIDE_NUMBERS = [
    "900441234567",
    "00441234567890",
    "011441234567890",
    "+19005550100",
    "9011442079460000",
    "00882123456",
    "+882123456",
    "008001234567",
    "0",
    "9",
    "*97",
    "s",
    "2001",
    "agent2001",
    DID,  # even our own DID: an unknown peer is not the carrier
    "+905551112233",
    "05551112233",
    "00905551112233",
    "112",
    "1800123456",
]
FROM_USERS = ["carrier", "2001", "admin", "asterisk"]


async def test_invites_from_an_unknown_peer_to_outside_numbers_are_refused(
    sandbox: Sandbox, world: World, start_service: StartService
) -> None:
    service = await start_service()
    phones_before = sum(len(v) for v in world.phone_legs.values())
    probe = await RawSip.bind("127.0.0.2", ("127.0.0.1", sandbox.pbx.sip_port))
    tried = connected = 0
    codes: dict[int, int] = {}
    pbx = sandbox.pbx
    leaked_channels = 0
    try:
        async with AriRest(pbx.ari_url, pbx.ari_username, pbx.ari_password) as rest:
            for number in OUTSIDE_NUMBERS:
                for user in FROM_USERS:
                    for credentials in ("", _fake_digest(user, number, sandbox.pbx.sip_port)):
                        invite = await probe.invite(number, user, authorization=credentials)
                        tried += 1
                        final = invite.codes[-1]
                        codes[final] = codes.get(final, 0) + 1
                        connected += any(c in (180, 183) or 200 <= c < 300 for c in invite.codes)
                        leaked_channels += len(await rest.list_channels())
    finally:
        probe.close()
    phones_after = sum(len(v) for v in world.phone_legs.values())
    leaked = leaked_channels + (phones_after - phones_before) + len(service.runtime.live_calls())
    leaked += len(await service.runtime.store.recent_calls(limit=10))
    report("toll-fraud INVITEs (unknown peer)", tried=tried, crashed=connected, leaked=leaked)
    assert connected == 0 and leaked == 0, codes
    assert set(codes) <= {401, 403, 404, 407}, codes


def _fake_digest(user: str, number: str, port: int) -> str:
    return (
        f'Digest username="{user}", realm="asterisk", nonce="0000", '
        f'uri="sip:{number}@127.0.0.1:{port}", response="{"0" * 32}", algorithm=MD5'
    )
