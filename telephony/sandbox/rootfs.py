"""A Debian-unstable root holding Asterisk 22, built once with debootstrap and reused.

Debian 12 ships no Asterisk; unstable does. The root lives in a cache folder outside
the repository. A marker file written last tells a finished root from a half-made one
(an interrupted debootstrap), and a file lock keeps concurrent runs from building it
twice or using it while it is being built.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-config",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
)
SUITE = "sid"
MARKER = ".thirdring-complete"


class SandboxError(RuntimeError):
    """The Asterisk sandbox could not be built or started; the message says why."""


def cache_dir() -> Path:
    """Where the root is kept: $THIRDRING_CACHE, else $XDG_CACHE_HOME/thirdring."""
    explicit = os.environ.get("THIRDRING_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "thirdring"


def _say(message: str) -> None:
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"another run holds {path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_complete(root: Path) -> bool:
    marker = root / MARKER
    return marker.is_file() and marker.read_text().strip() == ",".join(PACKAGES)


def ensure_root(base: Path | None = None, *, progress: Callable[[str], None] = _say) -> Path:
    """Return a finished Asterisk root, building it first if needed (about a minute)."""
    base = base or cache_dir()
    root = base / "asterisk-root"
    if is_complete(root):
        return root
    with _locked(base / "asterisk-root.lock"):
        if is_complete(root):  # built by the run we waited for
            return root
        _build(base, root, progress)
    return root


def _build(base: Path, root: Path, progress: Callable[[str], None]) -> None:
    if os.geteuid() != 0:
        raise SandboxError("building the Asterisk root needs root (debootstrap and chroot)")
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        progress("installing debootstrap with apt-get")
        _run(["apt-get", "install", "-y", "-q", "debootstrap"], "apt-get install debootstrap")
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    partial = base / "asterisk-root.partial"
    for stale in (partial, root):
        if stale.exists():
            progress(f"removing half-made root {stale}")
            shutil.rmtree(stale)
    progress(f"debootstrap {SUITE} with {', '.join(PACKAGES)} into {partial} (~1 min, ~500 MB)")
    command = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(partial),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-20:], line]
            if line.startswith(("I: Retrieving", "I: Validating")):
                continue  # hundreds of these; the rest shows the phases
            progress(line)
        if proc.wait() != 0:
            raise SandboxError("debootstrap failed:\n" + "\n".join(tail))
    (partial / MARKER).write_text(",".join(PACKAGES))
    partial.rename(root)
    progress(f"Asterisk root ready at {root}")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SandboxError(f"{what} failed ({result.returncode}): {result.stderr[-2000:]}")
