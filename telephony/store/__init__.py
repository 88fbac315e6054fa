"""Persistence: SQLAlchemy models, Alembic migrations, the CallStore and UserStore."""

from telephony.store.db import check, create_engine
from telephony.store.migrate import migrate
from telephony.store.repo import CallNotFoundError, CallRecord, CallStore
from telephony.store.users import UserRecord, UserStore

__all__ = [
    "CallNotFoundError",
    "CallRecord",
    "CallStore",
    "UserRecord",
    "UserStore",
    "check",
    "create_engine",
    "migrate",
]
