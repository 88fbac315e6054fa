"""`GET /metrics` on a real call (issue 8, monitoring): what is true now (ringing, on
hold, talking, the ARI connection) is what Prometheus reads; what happened (the pop
sent, an escalation) is counted. Only a bearer token or a supervisor's session reads
it."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from telephony.auth import ensure_user
from telephony.world.controller import PhoneBehaviour, World

from .conftest import RunningService, StartService, eventually, set_phones

DID = "908501234567"
PASSWORD = "metrics test pass phrase"
TOKEN = "scraper-token-0123456789"


def samples(text: str) -> dict[str, float]:
    """`name{label="v"}` → value, for every sample of the page."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


async def scrape(service: RunningService) -> dict[str, float]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(f"{service.url}/metrics", headers=headers) as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            return samples(await response.text())


async def test_metrics_follow_a_real_call_and_count_pop_and_escalation(
    world: World, start_service: StartService
) -> None:
    service = await start_service(metrics_token=TOKEN)
    before = await scrape(service)
    assert before["thirdring_ari_connected"] == 1
    assert before["thirdring_calls_ringing"] == 0
    assert before["thirdring_pop_latency_seconds_count"] == 0

    set_phones(world, PhoneBehaviour(answer_after=None))  # nobody answers: it escalates
    caller = await world.call(DID, "+905551118801", "Metrik")

    async def ringing() -> bool:
        return (await scrape(service))["thirdring_calls_ringing"] == 1

    await eventually(ringing, what="the caller counted as ringing")

    async def escalated() -> dict[str, float] | None:
        now = await scrape(service)
        return now if now.get('thirdring_escalations_total{step="queue"}') == 1 else None

    now = await eventually(escalated, timeout=15, what="the queue escalation counted")
    assert now["thirdring_calls_queued"] == 1 and now["thirdring_calls_ringing"] == 0
    assert now["thirdring_pop_latency_seconds_count"] == 1  # one call, one first pop
    assert 0 < now["thirdring_pop_latency_seconds_sum"] < 1.0
    # The system's answer at the deadline was sent by the answering clock, not the loop.
    assert now["thirdring_deadline_answer_late_seconds_count"] == 1
    assert sum(v for k, v in now.items() if k.startswith("thirdring_agents{")) == 2
    await world.hangup(caller)

    async def idle() -> bool:
        return (
            sum(v for k, v in (await scrape(service)).items() if k.startswith("thirdring_calls_in"))
            == 0
        )

    await eventually(idle, what="no call in progress")


async def test_metrics_need_a_token_or_a_supervisor(start_service: StartService) -> None:
    service = await start_service(metrics_token=TOKEN)
    await ensure_user(service.runtime.store, "sup", PASSWORD, "supervisor")
    await ensure_user(service.runtime.store, "ag", PASSWORD, "agent", "ayse")
    url = f"{service.url}/metrics"
    async with aiohttp.ClientSession() as anonymous:
        assert (await anonymous.get(url)).status == 401
        wrong = {"Authorization": "Bearer " + "x" * len(TOKEN)}
        assert (await anonymous.get(url, headers=wrong)).status == 401
        assert (await anonymous.get(url, headers={"Authorization": "Bearer "})).status == 401
    for user, status in (("sup", 200), ("ag", 403)):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            login = await http.post(
                f"{service.url}/login", json={"username": user, "password": PASSWORD}
            )
            assert login.status == 200
            assert (await http.get(url)).status == status
    await asyncio.sleep(0)


async def test_without_a_token_only_sessions_read_metrics(start_service: StartService) -> None:
    service = await start_service()  # metrics_token unset: no token is accepted
    async with aiohttp.ClientSession() as anonymous:
        response = await anonymous.get(
            f"{service.url}/metrics", headers={"Authorization": "Bearer "}
        )
        assert response.status == 401
        response = await anonymous.get(f"{service.url}/metrics")
        assert response.status == 401
        assert "supervisor" in (await response.json())["error"]
