"""Request bodies: a JSON object of bounded size, or a clear error. Browser input is
untrusted, so every handler reads its body through here."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = web.json_response({"error": message}, status=status)


async def json_object(
    request: web.Request, *, max_bytes: int, what: str, empty_ok: bool = False
) -> dict[str, Any]:
    """The body as a JSON object; `BadBody` (413/400) names what was expected."""
    if (request.content_length or 0) > max_bytes:
        raise BadBody(413, f"{what} is at most {max_bytes} bytes")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BadBody(413, f"{what} is at most {max_bytes} bytes")
    if not raw and empty_ok:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        raise BadBody(400, f"the body must be JSON: {what}") from None
    if not isinstance(body, dict):
        raise BadBody(400, f"the body must be a JSON object: {what}")
    return body
