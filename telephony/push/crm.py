"""The optional external CRM lookup (issue 6): `crm_lookup_url`, a template such as
`https://crm.example/lookup?phone={e164}`, asked once per call with a hard time budget.

It never delays the pop: the pop leaves with what we know; the CRM's answer follows
as a `pop_update`. What comes back is somebody else's data, so it is shown as at most
`MAX_FIELDS` short text fields — cleaned like Caller ID (no control or bidi-override
characters), never markup — and anything else (not JSON, not an object, too big, too
slow, an error status) is dropped with one log line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import structlog

from telephony.numbers import clean_text

log = structlog.get_logger("telephony.push.crm")

MAX_FIELDS: Final = 12
MAX_KEY: Final = 40
MAX_VALUE: Final = 200
MAX_BODY: Final = 64 * 1024


def lookup_url(template: str, e164: str) -> str:
    return template.replace("{e164}", quote(e164, safe=""))


def fields_of(data: object) -> dict[str, str] | None:
    """The CRM's answer as a few text fields, or None if it is not a JSON object. Only
    scalar values are kept (nested objects and lists are skipped), in the CRM's order."""
    if not isinstance(data, dict):
        return None
    out: dict[str, str] = {}
    for key, value in data.items():
        if len(out) >= MAX_FIELDS:
            break
        if value is None or isinstance(value, dict | list):
            continue
        name = clean_text(str(key), MAX_KEY)
        if name and name not in out:
            out[name] = clean_text(str(value), MAX_VALUE)
    return out


class CrmLookup:
    def __init__(self, url_template: str, *, timeout_s: float, token: str | None = None) -> None:
        self._template = url_template
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, e164: str | None, call_id: str) -> dict[str, str] | None:
        """The CRM's fields for this number; None when there is none to ask or no good
        answer in time (logged)."""
        if not e164:
            return None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        url = lookup_url(self._template, e164)
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status == 404:
                    return {}  # the CRM does not know the number: nothing to show
                if response.status != 200:
                    log.warning("crm.lookup_failed", call_id=call_id, status=response.status)
                    return None
                body = await response.content.read(MAX_BODY + 1)
                if len(body) > MAX_BODY:
                    log.warning("crm.lookup_failed", call_id=call_id, why="answer too big")
                    return None
                data = _json(body)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            log.warning("crm.lookup_failed", call_id=call_id, error=repr(error))
            return None
        fields = fields_of(data)
        if fields is None:
            log.warning("crm.lookup_failed", call_id=call_id, why="not a JSON object")
        return fields

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # let the connector close its sockets


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
