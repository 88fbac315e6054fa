"""Passwords: argon2id hashes made and checked off the event loop, and what a new
password or a username must look like.

One argon2 hash takes ~0.1 s of CPU and 64 MiB with the library's defaults
(RFC 9106's low-memory profile). Done on the event loop that would stall every
call for that long, so it runs in a worker thread (argon2 releases the GIL), at
most `concurrency` at a time so a flood of logins cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
# argon2 takes any length; a cap keeps a megabyte "password" from costing anything.
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 64


class PasswordPolicyError(ValueError):
    """A new password is not acceptable. The message never contains the password."""


def check_new_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")


def check_username(username: str) -> str:
    """The username as given, if acceptable: 1..64 characters, no control or invisible
    format characters, no surrounding spaces. Markup or SQL in it is just text."""
    if not isinstance(username, str) or not 1 <= len(username) <= MAX_USERNAME_LENGTH:
        raise ValueError(f"username: must be 1..{MAX_USERNAME_LENGTH} characters")
    if username != username.strip():
        raise ValueError("username: must not start or end with a space")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in username):
        raise ValueError("username: must not contain control or invisible characters")
    return username


def printable(text: str, limit: int = MAX_USERNAME_LENGTH) -> str:
    """For logs: attacker-typed text without control characters, capped."""
    return "".join(ch for ch in text[:limit] if unicodedata.category(ch)[0] != "C")


class Passwords:
    """argon2id via argon2-cffi's PasswordHasher, in worker threads."""

    def __init__(self, hasher: PasswordHasher | None = None, *, concurrency: int = 2) -> None:
        self.hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than ours."""
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def warm(self) -> None:
        """Make the dummy hash now (at start-up), so even the first `burn` costs one check."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))

    async def burn(self, password: str) -> None:
        """Verify against a dummy hash: an unknown user costs what a known one does."""
        await self.warm()
        assert self._dummy is not None
        await self.verify(self._dummy, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
