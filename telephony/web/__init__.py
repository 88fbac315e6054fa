"""aiohttp application: health probe, calls API, static agent page."""

from telephony.web.app import create_web_app

__all__ = ["create_web_app"]
