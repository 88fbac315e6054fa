"""`telephony users ...`: manage web users from the shell.

There is no default account and no default password: the first admin is made here.
Passwords are read from a prompt (asked twice) or, when stdin is not a terminal,
from the first line of stdin (`printf '%s\\n' "$PW" | telephony users add ...`);
never from the command line, where `ps` and shell history would show them.

The database is the service's (`--config` / THIRDRING_*), migrated first.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import TextIO

from telephony.auth.accounts import Accounts
from telephony.auth.passwords import check_new_password
from telephony.auth.roles import ROLES
from telephony.config import ConfigError, Settings, load_settings
from telephony.store.db import create_engine
from telephony.store.migrate import migrate
from telephony.store.repo import CallStore
from telephony.store.users import UserExistsError, UserRecord, UserStore


class CommandError(Exception):
    """Something the user got wrong; the message is printed as is."""


def add_users_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML config file (env THIRDRING_* wins)")
    users = commands.add_parser("users", help="web users: add, list, passwd, remove")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[common], help="add a user (password from stdin)")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--agent-id", help="the configured agent this user is (agents only)")
    actions.add_parser("list", parents=[common], help="list users")
    passwd = actions.add_parser("passwd", parents=[common], help="set a new password")
    passwd.add_argument("username")
    remove = actions.add_parser("remove", parents=[common], help="remove a user")
    remove.add_argument("username")


def run_users(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    from telephony.logs import configure_logging

    try:
        settings = _settings(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging("warning", json=False)
    try:
        password = None
        if args.action in ("add", "passwd"):
            password = read_password(stdin or sys.stdin, confirm=True)
        print(asyncio.run(_run(args, settings, password)))
    except (CommandError, ValueError, LookupError) as error:
        print(f"users {args.action}: {_message(error)}", file=sys.stderr)
        return 1
    return 0


def read_password(stdin: TextIO, *, confirm: bool) -> str:
    """From a prompt when stdin is a terminal, else stdin's first line."""
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        check_new_password(password)
        if confirm and getpass.getpass("Password again: ") != password:
            raise CommandError("the two passwords differ")
        return password
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line


async def _run(args: argparse.Namespace, settings: Settings, password: str | None) -> str:
    await migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        accounts = Accounts(UserStore(engine))
        if args.action == "add":
            assert password is not None
            if args.agent_id:
                # The agents table is filled from the config when the service starts;
                # do it here too, so an agent can be linked before the first start.
                await CallStore(engine, settings.default_region).upsert_agents(settings.agents)
            user = await accounts.add_user(args.username, password, args.role, args.agent_id)
            link = f", agent {user.agent_id}" if user.agent_id else ""
            return f"added user {user.username!r} ({user.role}{link})"
        if args.action == "passwd":
            assert password is not None
            await accounts.set_password(args.username, password)
            return f"password changed for {args.username!r}; their sessions ended"
        if args.action == "remove":
            if not await accounts.remove_user(args.username):
                raise CommandError(f"no user {args.username!r}")
            return f"removed user {args.username!r} and their sessions"
        return _table(await accounts.users.list_users())
    finally:
        await engine.dispose()


def _table(users: list[UserRecord]) -> str:
    if not users:
        return "no users yet: add the first admin with `telephony users add --role admin`"
    rows = [("username", "role", "agent_id", "created (UTC)")]
    rows += [
        (u.username, u.role, u.agent_id or "-", u.created_at.strftime("%Y-%m-%d %H:%M"))
        for u in users
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _settings(config: Path | None) -> Settings:
    path = config or (Path(p) if (p := os.environ.get("THIRDRING_CONFIG")) else None)
    # Users need the database and the agents only: ARI credentials may be absent
    # from this shell, so they are filled in with placeholders that are never used.
    return load_settings(path, ari_username="unused", ari_password="unused-by-users")


def _message(error: Exception) -> str:
    if isinstance(error, UserExistsError):
        return f"{error}; change a password with `telephony users passwd`"
    return str(error)
