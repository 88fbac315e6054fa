"""Persistence: SQLAlchemy models, Alembic migrations, the CallStore repository."""

from telephony.store.db import check, create_engine
from telephony.store.migrate import migrate
from telephony.store.repo import CallNotFoundError, CallRecord, CallStore

__all__ = ["CallNotFoundError", "CallRecord", "CallStore", "check", "create_engine", "migrate"]
