"""Where alpha01 keeps its files. One module, so nothing else guesses paths.

The home directory holds settings, the database, the knowledge index, logs and backups. It is
`--home`, else `$ALPHA01_HOME`, else `~/.alpha01` (on Windows `%LOCALAPPDATA%\\alpha01`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import HomeError

ENV_HOME = "ALPHA01_HOME"


def default_home() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "alpha01"
    return Path.home() / ".alpha01"


def app_dir() -> Path:
    """The folder of the executable when frozen, else the project checkout (for `models/`)."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Paths:
        return cls(Path(home).expanduser() if home else default_home())

    @property
    def settings(self) -> Path:
        return self.home / "settings.toml"

    @property
    def db(self) -> Path:
        return self.home / "alpha01.db"

    @property
    def kb(self) -> Path:
        return self.home / "kb"

    @property
    def lexicon(self) -> Path:
        """The owner's own synonyms and misspellings (see lexicon.py)."""
        return self.home / "lexicon.txt"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def backups(self) -> Path:
        return self.home / "backups"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    def ensure(self) -> Paths:
        """Create the home directory, owner-only (0700), check it is writable, or raise HomeError."""
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            private_dir(self.home)
            probe = self.home / f".write-probe-{os.getpid()}"  # two processes may start at once
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise HomeError(
                f"cannot use home directory {self.home}: {exc.strerror or exc}. "
                f"Choose another with --home DIR or {ENV_HOME}."
            ) from exc
        return self


# -- owner-only files ---------------------------------------------------------------------------
# On Linux and macOS: 0700 folders, 0600 files. On Windows the files live under the user's
# profile (%LOCALAPPDATA%), whose inherited ACL already admits only that user, SYSTEM and the
# administrators; rewriting ACLs (icacls) would not remove those, so nothing is changed there.


def private_dir(path: Path) -> None:
    """0700, when it is ours to change (a folder another user owns and lets us write stays)."""
    _chmod(path, 0o700, PermissionError)


def private_file(path: Path) -> None:
    """Make an existing file owner-only (a missing one is no error)."""
    _chmod(path, 0o600, FileNotFoundError)


def _chmod(path: Path, mode: int, harmless: type[OSError]) -> None:
    if os.name == "posix":
        with contextlib.suppress(harmless):
            os.chmod(path, mode)


def write_private(path: Path, data: bytes) -> None:
    """Write a file atomically (temp file, fsync, rename), readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    private_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (POSIX; Windows has no directory handles for this)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(lock: Path, wait_s: float = 10.0) -> Iterator[None]:
    """A lock between processes, held on the open file `lock` (left in place): the operating
    system releases it when its holder ends, even when killed, so a crash never leaves it held."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                _lock(fd, take=True)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise HomeError(f"{lock.name} 被另一个 alpha01 程序占用，请稍后重试") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            _lock(fd, take=False)
    finally:
        os.close(fd)


def _lock(fd: int, *, take: bool) -> None:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if take else fcntl.LOCK_UN)
