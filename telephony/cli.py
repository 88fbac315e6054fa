"""`telephony` — the command line: serve, users, sandbox, demo."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from telephony.config import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telephony", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (ARI client + web app)")
    serve.add_argument("--config", type=Path, help="TOML config file (env THIRDRING_* wins)")

    from telephony.auth.commands import add_users_parser

    add_users_parser(commands)

    sandbox = commands.add_parser("sandbox", help="the Asterisk 22 sandbox (PBX + world)")
    sandbox_commands = sandbox.add_subparsers(dest="action", required=True)
    sandbox_commands.add_parser("build", help="build the Debian-unstable Asterisk root once")
    up = sandbox_commands.add_parser("up", help="start PBX + world; Ctrl-C stops them")
    up.add_argument("--phones", default="2001,2002,2003", help="desk phone extensions")
    up.add_argument(
        "--detach", action="store_true", help="return at once; stop later with `sandbox down`"
    )
    sandbox_commands.add_parser("down", help="stop a detached sandbox")
    sandbox_commands.add_parser("status", help="show the detached sandbox, if any")

    demo = commands.add_parser("demo", help="PBX + world + service with simulated calls")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--db", default="var/demo.db", help="SQLite file for the demo's calls")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args.config)
    if args.command == "users":
        from telephony.auth.commands import run_users

        return run_users(args)
    if args.command == "sandbox":
        return _sandbox(args)
    from telephony.demo import run_demo

    return run_demo(port=args.port, db_path=Path(args.db))


def _serve(config: Path | None) -> int:
    from aiohttp import web

    from telephony.heap import freeze_startup_heap
    from telephony.logs import configure_logging
    from telephony.service import build_app

    try:
        settings = load_settings(config or _env_config())
    except ConfigError as error:
        print(error, file=sys.stderr)  # names the field, the value and what is accepted
        return 2
    configure_logging(settings.log_level, settings.log_json)
    app = build_app(settings)
    app.on_startup.append(freeze_startup_heap)  # after the service's own start
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None)
    return 0


def _env_config() -> Path | None:
    path = os.environ.get("THIRDRING_CONFIG")
    return Path(path) if path else None


def _state_file() -> Path:
    from telephony.sandbox.rootfs import cache_dir

    return cache_dir() / "sandbox.json"


def _sandbox(args: argparse.Namespace) -> int:
    from telephony.sandbox.pair import Sandbox
    from telephony.sandbox.rootfs import SandboxError, ensure_root

    try:
        if args.action == "build":
            print(ensure_root())
            return 0
        if args.action == "down":
            return _sandbox_down()
        if args.action == "status":
            state = _state_file()
            print(state.read_text() if state.exists() else "no detached sandbox")
            return 0
        phones = tuple(p.strip() for p in args.phones.split(",") if p.strip())
        box = Sandbox(phone_extensions=phones).start(tied=not args.detach)
    except SandboxError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    info = {
        name: {
            "ari_url": inst.ari_url,
            "ari_username": inst.ari_username,
            "ari_password": inst.ari_password,
            "sip_port": inst.sip_port,
            "pid": inst.proc.pid if inst.proc else None,
            "recordings": str(inst.recordings_dir),
        }
        for name, inst in (("pbx", box.pbx), ("world", box.world))
    }
    state = _state_file()
    state.parent.mkdir(parents=True, exist_ok=True)
    state.touch(mode=0o600)
    state.write_text(json.dumps(info, indent=2))  # holds passwords: owner-only
    print(f"PBX ARI {box.pbx.ari_url}, world ARI {box.world.ari_url}; credentials in {state}")
    if args.detach:
        return 0
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        signal.sigwait(stop_signals)
    finally:
        box.stop()
        state.unlink(missing_ok=True)
    return 0


def _sandbox_down() -> int:
    state = _state_file()
    if not state.exists():
        print("no detached sandbox")
        return 0
    for name, inst in json.loads(state.read_text()).items():
        pid = inst.get("pid")
        if pid and _stop_group(pid):
            print(f"stopped {name} (pid {pid})")
    state.unlink()
    return 0


def _stop_group(pid: int, timeout: float = 15.0) -> bool:
    """SIGTERM the process group, wait, then SIGKILL: no process is left behind."""
    import time

    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True


if __name__ == "__main__":
    sys.exit(main())
