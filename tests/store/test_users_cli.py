"""`telephony users ...` against SQLite and PostgreSQL, as an operator runs it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from telephony.auth import Accounts, Passwords
from telephony.auth.commands import CommandError, read_password
from telephony.store.db import create_engine
from telephony.store.users import UserStore

SECRET = "first admin pass phrase"


def users_cli(
    database_url: str, *args: str, stdin: str = "", config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIRDRING_")}
    env["THIRDRING_DATABASE_URL"] = database_url  # no ARI settings: not needed here
    extra = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "telephony", "users", *args, *extra],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def authenticate(database_url: str, username: str, password: str) -> bool:
    engine = create_engine(database_url)
    try:
        accounts = Accounts(UserStore(engine), passwords=Passwords(PasswordHasher()))
        return await accounts.authenticate(username, password) is not None
    finally:
        await engine.dispose()


async def test_first_admin_then_list_passwd_remove(database_url: str) -> None:
    # A fresh database: the command migrates it first.
    added = users_cli(
        database_url, "add", "--username", "root", "--role", "admin", stdin=SECRET + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added user 'root' (admin)"
    assert await authenticate(database_url, "root", SECRET)

    again = users_cli(database_url, "add", "--username", "root", "--role", "agent", stdin=SECRET)
    assert again.returncode == 1
    assert "exists" in again.stderr and "users passwd" in again.stderr

    listed = users_cli(database_url, "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["username", "role", "agent_id", "created", "(UTC)"]
    assert lines[1].split()[:3] == ["root", "admin", "-"]

    changed = users_cli(database_url, "passwd", "root", stdin="second pass phrase\n")
    assert changed.returncode == 0, changed.stderr
    assert await authenticate(database_url, "root", "second pass phrase")
    assert not await authenticate(database_url, "root", SECRET)

    assert users_cli(database_url, "remove", "root").returncode == 0
    gone = users_cli(database_url, "remove", "root")
    assert gone.returncode == 1 and "no user 'root'" in gone.stderr
    assert "no users yet" in users_cli(database_url, "list").stdout

    for result in (added, again, listed, changed, gone):
        assert SECRET not in result.stdout + result.stderr
        assert "second pass phrase" not in result.stdout + result.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_input_is_refused_with_a_reason(database_url: str) -> None:
    short = users_cli(database_url, "add", "--username", "a", "--role", "admin", stdin="short\n")
    assert short.returncode == 1
    assert "at least 10 characters" in short.stderr and "short" not in short.stderr.split(":")[-1]
    role = users_cli(database_url, "add", "--username", "a", "--role", "root", stdin=SECRET)
    assert role.returncode == 2 and "invalid choice" in role.stderr
    name = users_cli(database_url, "add", "--username", " a", "--role", "agent", stdin=SECRET)
    assert name.returncode == 1 and "username" in name.stderr
    missing = users_cli(database_url, "passwd", "nobody", stdin=SECRET)
    assert missing.returncode == 1 and "no user 'nobody'" in missing.stderr
    assert "no users yet" in users_cli(database_url, "list").stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_agent_link_uses_the_configured_agents(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "thirdring.toml"
    config.write_text(
        'agents = [{id = "ayse", name = "Ayşe Yılmaz", endpoint = "PJSIP/agent2001"}]\n'
    )
    unknown = users_cli(
        database_url,
        "add",
        "--username",
        "ayse",
        "--role",
        "agent",
        "--agent-id",
        "ghost",
        stdin=SECRET,
        config=config,
    )
    assert unknown.returncode == 1
    assert "agent_id = 'ghost'" in unknown.stderr and "known: ayse" in unknown.stderr
    linked = users_cli(
        database_url,
        "add",
        "--username",
        "ayse",
        "--role",
        "agent",
        "--agent-id",
        "ayse",
        stdin=SECRET,
        config=config,
    )
    assert linked.returncode == 0, linked.stderr
    assert linked.stdout.strip() == "added user 'ayse' (agent, agent ayse)"
    assert users_cli(database_url, "list").stdout.splitlines()[1].split()[:3] == [
        "ayse",
        "agent",
        "ayse",
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_config_is_exit_2(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('database_url = "mysql://nope"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIRDRING_")}
    result = subprocess.run(
        [sys.executable, "-m", "telephony", "users", "list", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "database_url" in result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_password_prompt_asks_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([SECRET, SECRET, SECRET, SECRET + "x", "short"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert read_password(_Terminal(), confirm=True) == SECRET
    with pytest.raises(CommandError, match="differ"):
        read_password(_Terminal(), confirm=True)
    with pytest.raises(ValueError, match="at least 10"):
        read_password(_Terminal(), confirm=True)


def test_password_from_a_pipe_is_the_first_line() -> None:
    assert read_password(io.StringIO("pass phrase  \nsecond\n"), confirm=True) == "pass phrase  "
    assert read_password(io.StringIO("no newline at end"), confirm=True) == "no newline at end"
