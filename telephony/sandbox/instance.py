"""One Asterisk process with configuration rendered from `dialplans/`.

Asterisk runs inside the cached Debian-unstable root (`chroot ROOT asterisk -f -C ...`)
or, when an Asterisk 20+ is installed on the host, from there. Each instance gets its
own config/spool/run/log folders, a free loopback HTTP port for ARI and a password
generated for this run.
"""

from __future__ import annotations

import base64
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from telephony.sandbox.rootfs import SandboxError, cache_dir, ensure_root

DIALPLANS = Path(__file__).resolve().parents[2] / "dialplans"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{{name}}` placeholders; Asterisk's own `${VAR}` is left alone."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SandboxError(f"template placeholder {{{{{name}}}}} has no value")
        return values[name]

    return _PLACEHOLDER.sub(fill, template)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the starting process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def prune_old_homes(folder: Path, max_age_s: float = 86400.0) -> None:
    """Instance folders of runs over a day old (their recordings too) are removed."""
    if not folder.is_dir():
        return
    cutoff = time.time() - max_age_s
    for home in folder.iterdir():
        if home.is_dir() and home.stat().st_mtime < cutoff:
            shutil.rmtree(home, ignore_errors=True)


@dataclass(frozen=True)
class AsteriskInstall:
    """Where Asterisk lives: inside a chroot (`root`) or on the host (`root` None)."""

    root: Path | None
    mod_dir: str
    data_dir: str

    def host_path(self, path: str) -> Path:
        """The host's path for a path as Asterisk sees it."""
        return self.root / path.lstrip("/") if self.root else Path(path)

    def command(self, *args: str) -> list[str]:
        if self.root is None:
            return ["asterisk", *args]
        return ["chroot", str(self.root), "/usr/sbin/asterisk", *args]

    def version(self) -> str:
        out = subprocess.run(self.command("-V"), capture_output=True, text=True, check=False)
        return out.stdout.strip()


def host_asterisk() -> AsteriskInstall | None:
    """An Asterisk 20 or newer already on PATH (a real server, the Docker image)."""
    if os.environ.get("THIRDRING_USE_HOST_ASTERISK", "auto") == "no":
        return None
    if shutil.which("asterisk") is None:
        return None
    version = subprocess.run(["asterisk", "-V"], capture_output=True, text=True, check=False)
    found = re.search(r"Asterisk (\d+)", version.stdout)
    if not found or int(found.group(1)) < 20:
        return None
    mod_dirs = ["/usr/lib/x86_64-linux-gnu/asterisk/modules", "/usr/lib/asterisk/modules"]
    mod_dir = next((d for d in mod_dirs if Path(d).is_dir()), mod_dirs[-1])
    data_dir = (
        "/usr/share/asterisk"
        if Path("/usr/share/asterisk/sounds").is_dir()
        else ("/var/lib/asterisk")
    )
    return AsteriskInstall(root=None, mod_dir=mod_dir, data_dir=data_dir)


def find_install() -> AsteriskInstall:
    """The host's Asterisk if fit, else the sandbox root (built on first use)."""
    return host_asterisk() or AsteriskInstall(
        root=ensure_root(),
        mod_dir="/usr/lib/x86_64-linux-gnu/asterisk/modules",
        data_dir="/usr/share/asterisk",
    )


@dataclass
class AsteriskInstance:
    """A rendered, startable Asterisk. `role` picks the `dialplans/<role>/` files."""

    install: AsteriskInstall
    role: str
    name: str
    values: dict[str, str]
    http_port: int = field(default_factory=free_port)
    sip_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    ari_username: str = "thirdring"
    ari_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        # Under the root so the chrooted Asterisk sees it; under the cache otherwise.
        base = "/srv/thirdring" if self.install.root else str(cache_dir() / "instances")
        self.home = f"{base}/{self.name}-{self.http_port}"

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def spool_dir(self) -> Path:
        """Host path of the spool; ARI recordings land in `recording/` below it."""
        return self.install.host_path(f"{self.home}/spool")

    @property
    def recordings_dir(self) -> Path:
        return self.spool_dir / "recording"

    @property
    def log_file(self) -> Path:
        return self.install.host_path(f"{self.home}/log/messages.log")

    def render(self) -> None:
        home = self.install.host_path(self.home)
        for sub in ("etc", "spool/recording", "spool/monitor", "run", "log", "db", "lib"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "name": self.name,
            "etc_dir": f"{self.home}/etc",
            "spool_dir": f"{self.home}/spool",
            "run_dir": f"{self.home}/run",
            "log_dir": f"{self.home}/log",
            "db_dir": f"{self.home}/db",
            "var_lib_dir": f"{self.home}/lib",
            "mod_dir": self.install.mod_dir,
            "data_dir": self.install.data_dir,
            "http_port": str(self.http_port),
            "sip_port": str(self.sip_port),
            "ari_username": self.ari_username,
            "ari_password": self.ari_password,
            **self.values,
        }
        for folder in (DIALPLANS / "common", DIALPLANS / self.role):
            for template in sorted(folder.glob("*.conf")):
                text = render(template.read_text(), values)
                target = home / "etc" / template.name
                target.write_text(text)
                target.chmod(0o600)  # ari.conf holds the password
        if self.install.root is not None:
            # Without /etc/hosts in the root, Asterisk resolves host names over DNS on
            # every call, and concurrent look-ups stall for seconds. The host's own
            # file is copied at each start (names differ between machines).
            hosts = Path("/etc/hosts")
            if hosts.is_file():
                shutil.copy(hosts, self.install.root / "etc" / "hosts")
        indications = self.install.host_path("/etc/asterisk/indications.conf")
        if indications.is_file():
            shutil.copy(indications, home / "etc" / "indications.conf")

    def start(self, timeout: float = 60.0, *, tied: bool = True) -> None:
        """Start and wait until fully booted. `tied`: Asterisk dies with this process."""
        self.render()
        log = (self.install.host_path(self.home) / "log" / "console.log").open("ab")
        self.proc = subprocess.Popen(
            self.install.command("-f", "-n", "-C", f"{self.home}/etc/asterisk.conf"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if tied else None,
        )
        log.close()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def cli(self, command: str, timeout: float = 30.0) -> str:
        """Run an Asterisk CLI command on this instance (remote console)."""
        result = subprocess.run(
            self.install.command("-C", f"{self.home}/etc/asterisk.conf", "-rx", command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return result.stdout

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        auth = base64.b64encode(f"{self.ari_username}:{self.ari_password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.ari_url}/ari/asterisk/info", headers={"Authorization": f"Basic {auth}"}
        )
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SandboxError(
                    f"Asterisk {self.name} exited with {self.proc.returncode} at start; "
                    f"see {self.install.host_path(self.home)}/log/console.log"
                )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        else:
            raise SandboxError(f"Asterisk {self.name}: ARI not up on {self.ari_url} in {timeout}s")
        remaining = max(1.0, deadline - time.monotonic())
        self.cli("core waitfullybooted", timeout=remaining)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Asterisk and everything it started; no process is left behind."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
