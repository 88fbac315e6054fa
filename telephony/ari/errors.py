"""Errors raised by the ARI client.

Two families, as in h11: `AriError` when Asterisk answered a REST call with an
error (or could not be reached), `EventParseError` when Asterisk sent an event
we cannot read. Messages never contain credentials: only method, path, status
and what Asterisk said.
"""

from __future__ import annotations


class AriError(Exception):
    """A REST call to Asterisk failed.

    `status` is the HTTP status, or None when no response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        where = f"{method} {path}".strip()
        code = f" -> {status}" if status is not None else ""
        super().__init__(f"{where}{code}: {message}" if where else message)


class BadRequest(AriError):
    """400: a parameter was missing or invalid."""


class NotFound(AriError):
    """404: the resource (channel, bridge, recording...) is gone."""


class Conflict(AriError):
    """409: the resource is in the wrong state (e.g. channel not in Stasis)."""


class Unprocessable(AriError):
    """422: a referenced resource (endpoint, media, app) does not exist."""


class AriServerError(AriError):
    """5xx: Asterisk failed internally."""


class AriUnavailable(AriError):
    """Asterisk could not be reached: refused, reset, timed out."""


class EventParseError(Exception):
    """An event from the websocket is not valid JSON or not a valid event."""

    def __init__(self, message: str, raw: str | bytes) -> None:
        self.message = message
        self.raw = raw
        super().__init__(message)


_BY_STATUS: dict[int, type[AriError]] = {
    400: BadRequest,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def error_for_status(status: int, message: str, *, method: str, path: str) -> AriError:
    """The typed error for an HTTP error status."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = AriServerError if status >= 500 else AriError
    return cls(message, status=status, method=method, path=path)
