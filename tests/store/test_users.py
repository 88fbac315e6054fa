"""Users and sessions in the database (SQLite and PostgreSQL), migration 0003."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.store.migrate import MIGRATIONS_DIR, migrate
from telephony.store.models import User, UserSession
from telephony.store.repo import CallStore
from telephony.store.users import (
    AgentLinkError,
    UserExistsError,
    UserNotFoundError,
    UserStore,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def users(engine: AsyncEngine) -> UserStore:
    return UserStore(engine)


async def add(users: UserStore, username: str, role: str = "agent", **kw: str | None) -> int:
    record = await users.add_user(
        username=username, password_hash=HASH, role=role, agent_id=kw.get("agent_id"), now=T0
    )
    return record.id


async def test_add_get_list_update_remove(users: UserStore, store: CallStore) -> None:
    await store.upsert_agents([AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a")])
    await add(users, "zeynep", "admin")
    alice_id = await add(users, "alice", agent_id="ayse")

    alice = await users.get_user("alice")
    assert alice is not None and alice.id == alice_id
    assert (alice.role, alice.agent_id, alice.password_hash) == ("agent", "ayse", HASH)
    assert alice.created_at == T0 and alice.created_at.tzinfo == UTC
    assert HASH not in repr(alice)  # never shown by accident in a log line
    assert [u.username for u in await users.list_users()] == ["alice", "zeynep"]
    assert await users.get_user("Alice") is None  # exact, case-sensitive names

    later = T0 + timedelta(days=1)
    updated = await users.update_user(
        "alice", role="supervisor", agent_id=None, password_hash="new", now=later
    )
    assert (updated.role, updated.agent_id, updated.password_hash) == ("supervisor", None, "new")
    assert updated.password_changed_at == later and updated.created_at == T0

    assert await users.remove_user("alice") is True
    assert await users.remove_user("alice") is False
    assert await users.get_user("alice") is None


async def test_usernames_are_unique_and_roles_checked(
    users: UserStore, engine: AsyncEngine
) -> None:
    await add(users, "alice")
    with pytest.raises(UserExistsError):
        await add(users, "alice", "admin")
    with pytest.raises(ValueError, match="role"):
        await add(users, "bob", "root")
    with pytest.raises(UserNotFoundError):
        await users.update_user("nobody", role="admin", now=T0)
    # The database refuses an unknown role too, whoever writes it.
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                insert(User).values(
                    username="x",
                    password_hash=HASH,
                    role="root",
                    created_at=T0,
                    password_changed_at=T0,
                )
            )


async def test_agent_link_must_name_a_known_free_agent(users: UserStore, store: CallStore) -> None:
    with pytest.raises(AgentLinkError, match="known: none"):
        await add(users, "alice", agent_id="ayse")
    await store.upsert_agents(
        [
            AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a"),
            AgentConfig(id="mehmet", name="Mehmet", endpoint="PJSIP/b"),
        ]
    )
    await add(users, "alice", agent_id="ayse")
    with pytest.raises(AgentLinkError, match="already linked to user 'alice'"):
        await add(users, "bob", agent_id="ayse")
    await add(users, "bob")
    with pytest.raises(AgentLinkError, match="known: ayse, mehmet"):
        await users.update_user("bob", agent_id="ghost", now=T0)
    updated = await users.update_user("bob", agent_id="mehmet", now=T0)
    assert updated.agent_id == "mehmet"


@pytest.mark.parametrize(
    "username",
    ["Robert'); DROP TABLE users;--", "' OR '1'='1", "<script>alert(1)</script>", "Ayşe 📞"],
)
async def test_hostile_usernames_are_stored_as_text(
    users: UserStore, engine: AsyncEngine, username: str
) -> None:
    await add(users, username)
    await add(users, "other")
    found = await users.get_user(username)
    assert found is not None and found.username == username
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(User))).scalar() == 2


async def test_sessions_join_their_user_and_end_with_it(
    users: UserStore, engine: AsyncEngine
) -> None:
    alice = await add(users, "alice")
    bob = await add(users, "bob")
    await users.add_session(token_hash="a1", user_id=alice, csrf_token="c1", now=T0)
    await users.add_session(token_hash="a2", user_id=alice, csrf_token="c2", now=T0)
    await users.add_session(token_hash="b1", user_id=bob, csrf_token="c3", now=T0)

    found = await users.session_with_user("a1")
    assert found is not None
    session, user = found
    assert (session.user_id, session.csrf_token, session.last_seen_at) == (alice, "c1", T0)
    assert user.username == "alice"
    assert "c1" not in repr(session) and "a1" not in repr(session)
    assert await users.session_with_user("nope") is None

    await users.touch_session("a1", T0 + timedelta(minutes=5))
    found = await users.session_with_user("a1")
    assert found is not None and found[0].last_seen_at == T0 + timedelta(minutes=5)

    await users.delete_session("a1")
    assert [s.token_hash for s in await users.sessions_of("alice")] == ["a2"]
    await users.update_user("alice", password_hash="new", now=T0, end_sessions=True)
    assert await users.sessions_of("alice") == []
    assert await users.remove_user("bob")
    async with engine.connect() as conn:
        left = (await conn.execute(select(func.count()).select_from(UserSession))).scalar()
    assert left == 0


async def test_delete_expired_sessions(users: UserStore) -> None:
    alice = await add(users, "alice")
    await users.add_session(token_hash="old", user_id=alice, csrf_token="c", now=T0)
    await users.add_session(
        token_hash="idle", user_id=alice, csrf_token="c", now=T0 + timedelta(hours=20)
    )
    await users.add_session(
        token_hash="fresh", user_id=alice, csrf_token="c", now=T0 + timedelta(hours=23)
    )
    await users.touch_session("old", T0 + timedelta(hours=23, minutes=30))
    now = T0 + timedelta(hours=24)
    removed = await users.delete_expired_sessions(
        idle_before=now - timedelta(hours=2), created_before=now - timedelta(hours=24)
    )
    assert removed == 2  # "old" (24 h old, though busy) and "idle"
    assert [s.token_hash for s in await users.sessions_of("alice")] == ["fresh"]


async def test_user_session_cascade_in_the_schema(users: UserStore, engine: AsyncEngine) -> None:
    alice = await add(users, "alice")
    await users.add_session(token_hash="t", user_id=alice, csrf_token="c", now=T0)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE username = 'alice'"))
    async with engine.connect() as conn:
        left = (await conn.execute(select(func.count()).select_from(UserSession))).scalar()
    assert left == 0
    with pytest.raises(IntegrityError):
        await users.add_session(token_hash="t2", user_id=alice, csrf_token="c", now=T0)


def _alembic(conn: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    getattr(command, action)(config, revision)


async def test_migration_0003_adds_and_removes_only_the_user_tables(
    engine: AsyncEngine, database_url: str, store: CallStore
) -> None:
    # A database as 0002 left it, with a call in it.
    async with engine.begin() as conn:
        await conn.run_sync(_alembic, "downgrade", "0002")
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert not tables & {"users", "user_sessions"} and "calls" in tables
    # Written as 0002's schema has it (today's store writes columns added later).
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO calls (id, did, caller_number_raw, caller_number, caller_name,"
                " caller_channel_id, arrived_at)"
                " VALUES ('c1', '+902120000000', '+905551112233', '+905551112233', 'Ayşe',"
                " 'chan', :at)"
            ),
            {"at": T0},
        )

    await migrate(database_url)
    async with engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("users")}
        )
        session_fks = await conn.run_sync(lambda c: inspect(c).get_foreign_keys("user_sessions"))
    assert columns == {
        "id",
        "username",
        "password_hash",
        "role",
        "agent_id",
        "created_at",
        "password_changed_at",
    }
    assert session_fks[0]["referred_table"] == "users"
    assert session_fks[0]["options"].get("ondelete") == "CASCADE"
    assert await store.get_call("c1") is not None
    await add(UserStore(engine), "alice")
