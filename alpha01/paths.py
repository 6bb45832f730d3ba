"""Where alpha01 keeps its files. One module, so nothing else guesses paths.

The home directory holds settings, the database, the knowledge index, logs and backups. It is
`--home`, else `$ALPHA01_HOME`, else `~/.alpha01` (on Windows `%LOCALAPPDATA%\\alpha01`).
"""

from __future__ import annotations

import os
import sys
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
        """Create the home directory (and check it is writable), or raise HomeError."""
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            probe = self.home / ".write-probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise HomeError(
                f"cannot use home directory {self.home}: {exc.strerror or exc}. "
                f"Choose another with --home DIR or {ENV_HOME}."
            ) from exc
        return self
