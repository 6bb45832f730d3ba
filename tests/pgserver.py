"""A throwaway PostgreSQL server for the tests and the benchmark: initdb in a temporary folder,
started as a non-root user (PostgreSQL refuses to run as root) listening on a Unix socket only,
stopped and deleted afterwards. Uses Debian's `postgresql` package (scripts/test-deps).

Each caller gets its own schema (`fresh_url`), so tests share one server but no tables.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

DEADLINE_S = 60


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run scripts/test-deps "
                           "(apt-get install -y postgresql)")
    return Path(versions[-1]).parent


class PgServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="a01pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "server.log"
        self._as: dict = {}
        if os.geteuid() == 0:
            # Root cannot run postgres: Debian's package made the `postgres` user.
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                user = pwd.getpwnam("nobody")
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            for path in (self.root,):
                os.chown(path, user.pw_uid, user.pw_gid)
        self.sock.mkdir()
        if self._as:
            os.chown(self.sock, self._as["user"], self._as["group"])
        self.started = False

    def _run(self, *args: str) -> None:
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True,
                              text=True, timeout=DEADLINE_S, cwd=self.root, **self._as)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}\n{log}")

    def start(self) -> PgServer:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-k {self.sock} -c listen_addresses='' -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
                   " -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", str(DEADLINE_S), "start")
        self.started = True
        return self

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={quote(str(self.sock))}&connect_timeout=5"

    def fresh_url(self, prefix: str = "t") -> str:
        """A URL whose search_path is a new empty schema."""
        import psycopg

        schema = f"{prefix}_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.url}&options={quote(f'-c search_path={schema}')}"

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
