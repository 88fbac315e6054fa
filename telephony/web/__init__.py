"""aiohttp application: login, health probe, calls API, static agent page."""

from telephony.web.access import origin_allowed, public, requires
from telephony.web.app import create_web_app

__all__ = ["create_web_app", "origin_allowed", "public", "requires"]
