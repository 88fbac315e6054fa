"""Who may do what: the three roles of the web app."""

from __future__ import annotations

from typing import Literal, TypeGuard

from telephony.store.models import ROLES as _STORED_ROLES

Role = Literal["agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "admin")
# Every logged-in user, whatever the role.
ANY_ROLE: tuple[Role, ...] = ROLES

assert ROLES == _STORED_ROLES, "roles here and the users table's check constraint must agree"


def is_role(value: object) -> TypeGuard[Role]:
    return value in ROLES
