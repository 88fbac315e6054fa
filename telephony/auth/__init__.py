"""Accounts and roles: argon2 passwords, server-side sessions, login rate limits."""

from telephony.auth.accounts import (
    Accounts,
    AuthSession,
    NewSession,
    SessionLimits,
    ensure_user,
    token_hash,
)
from telephony.auth.options import AuthOptions
from telephony.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    PasswordPolicyError,
    Passwords,
    check_new_password,
    check_username,
)
from telephony.auth.ratelimit import Limit, LoginRateLimiter
from telephony.auth.roles import ANY_ROLE, ROLES, Role

__all__ = [
    "ANY_ROLE",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "Accounts",
    "AuthOptions",
    "AuthSession",
    "Limit",
    "LoginRateLimiter",
    "NewSession",
    "PasswordPolicyError",
    "Passwords",
    "Role",
    "SessionLimits",
    "check_new_password",
    "check_username",
    "ensure_user",
    "token_hash",
]
