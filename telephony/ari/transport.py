"""HTTP transport for ARI: one pooled session, query encoding, error mapping.

Kept apart from `rest.py` so the resource methods there read as a plain list
of ARI operations.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import aiohttp
import yarl
from pydantic import BaseModel, ValidationError

from telephony.ari.errors import AriError, AriUnavailable, error_for_status
from telephony.ari.urgent import UrgentFirst

# Scalars ARI takes in the query string; lists are comma-joined (ARI's form for
# "allowMultiple" parameters: a repeated key would overwrite, not append).
QueryValue = str | int | float | bool | list[str] | None

_ERROR_BODY_CAP = 500

M = TypeVar("M", bound=BaseModel)


def seg(value: str) -> str:
    """One path segment, escaped (ids may hold characters like '/' or '@')."""
    return quote(value, safe="")


def basic_auth(username: str, password: str) -> str:
    """`Authorization` header value (aiohttp.BasicAuth is deprecated in 3.14)."""
    if ":" in username:
        raise ValueError("ARI username must not contain ':'")
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def checked_base_url(base_url: str) -> yarl.URL:
    """Asterisk's http(s)://host:port, refused (without echoing it) if it is not one or
    carries credentials (they go in username/password)."""
    url = yarl.URL(base_url)
    if url.user or url.password:
        raise ValueError("base_url must not contain credentials; pass username/password")
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be http(s)://host:port, got scheme {url.scheme!r}")
    return url


def encode_query(params: Mapping[str, QueryValue]) -> dict[str, str]:
    """ARI query string: None dropped, bools as true/false, lists comma-joined."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = ",".join(value)
        else:
            out[key] = str(value)
    return out


class AriTransport:
    """Owns the aiohttp session and turns HTTP outcomes into values or AriErrors."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 5.0,
        connections: int = 100,
    ) -> None:
        url = checked_base_url(base_url)
        self._base = str(url).rstrip("/") + "/ari"
        self._headers = {"Authorization": basic_auth(username, password)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # Requests beyond this many at once wait for a connection; at 200 calls' answers
        # at once, 100 (aiohttp's default) kept the answer's p99 near 1 s, 1000 ~0.3 s.
        # Keep it under Asterisk's http.conf `sessionlimit` (ours: 1000; default: 100).
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._urgent_first = UrgentFirst()

    @property
    def base_url(self) -> str:
        """The ARI root, e.g. http://127.0.0.1:8088/ari."""
        return self._base

    def _get_session(self) -> aiohttp.ClientSession:
        # Lazy: a ClientSession must be created inside the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        variables: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        urgent: bool = False,
    ) -> Any:
        """Call ARI; return the decoded JSON body, or None when there is none.

        `path` is relative to /ari and already escaped (see `seg`). `variables` go in
        the JSON body as ARI's `variables` object; `body` is any other JSON body.
        `urgent` requests go before ordinary ones (see telephony.ari.urgent).
        """
        if variables is not None:
            body = {**(body or {}), "variables": dict(variables)}
        if urgent:
            async with self._urgent_first.urgent():
                content = await self._send(method, path, params, body)
        else:
            await self._urgent_first.ordinary()
            content = await self._send(method, path, params, body)
        text = content.decode("utf-8", "replace")
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise AriError(
                f"response is not JSON: {text[:_ERROR_BODY_CAP]!r}",
                method=method,
                path=path,
            ) from exc

    async def download(self, path: str) -> bytes:
        """GET a binary resource (a stored recording's file)."""
        return await self._send("GET", path, None, None)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None,
        body: Mapping[str, Any] | None,
    ) -> bytes:
        url = yarl.URL(self._base + path, encoded=True)
        try:
            async with self._get_session().request(
                method, url, params=encode_query(params or {}), json=body
            ) as resp:
                status = resp.status
                content = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            raise AriUnavailable(
                f"Asterisk unreachable: {detail}", method=method, path=path
            ) from exc
        if status >= 400:
            message = error_message(content.decode("utf-8", "replace"))
            raise error_for_status(status, message, method=method, path=path)
        return content

    async def _one(
        self,
        model: type[M],
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        variables: Mapping[str, str] | None = None,
    ) -> M:
        data = await self.request(method, path, params, variables=variables)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise AriError(
                f"unexpected {model.__name__} in response: {exc.error_count()} error(s)",
                method=method,
                path=path,
            ) from exc

    async def _many(self, model: type[M], path: str) -> list[M]:
        data = await self.request("GET", path)
        if not isinstance(data, list):
            raise AriError(f"expected a list of {model.__name__}", method="GET", path=path)
        try:
            return [model.model_validate(item) for item in data]
        except ValidationError as exc:
            raise AriError(
                f"unexpected {model.__name__} in list: {exc.error_count()} error(s)",
                method="GET",
                path=path,
            ) from exc


def error_message(text: str) -> str:
    """Asterisk's `{"message": ...}` if present, else the body, shortened."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return text[:_ERROR_BODY_CAP] or "(empty body)"
