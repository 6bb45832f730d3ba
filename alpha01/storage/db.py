"""Opening the database: WAL, pragmas, migrations, and the refusal of a newer schema.

One process-wide writer owns the write connection (the engine thread); readers (the TUI, the
CLI's reports) open their own read-only connections with `Database.open_reader`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from ..errors import SchemaTooNewError, StorageError
from . import migrations as mig


class Database:
    """The alpha01 database: a sqlite-utils Database plus our transaction helper."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.path = path

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        """Open (creating if needed) the database for writing and bring its schema up to date.

        Raises:
            SchemaTooNewError: the file was written by a newer alpha01.
            StorageError: the file is not a database or cannot be opened.
        """
        path = Path(path)
        try:
            conn = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False,
                                   isolation_level=None)
            _pragmas(conn, write=True)
            db = cls(sqlite_utils.Database(conn, execute_plugins=False), path)
            db.check_schema()
            if migrate:
                mig.migrations.apply(db.db)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        return db

    @classmethod
    def open_reader(cls, path: Path | str) -> Database:
        """A read-only connection for the TUI and reports (never writes, never blocks the writer)."""
        path = Path(path)
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0,
                                   check_same_thread=False, isolation_level=None)
            _pragmas(conn, write=False)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {path} for reading: {exc}") from exc
        return cls(sqlite_utils.Database(conn, execute_plugins=False), path)

    @classmethod
    def memory(cls) -> Database:
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        _pragmas(conn, write=True)
        db = cls(sqlite_utils.Database(conn, execute_plugins=False), None)
        mig.migrations.apply(db.db)
        return db

    def check_schema(self) -> None:
        applied = {m.name for m in mig.migrations.applied(self.db)}
        unknown = sorted(applied - set(mig.known_names()))
        if unknown:
            raise SchemaTooNewError(
                f"database {self.path} was written by a newer alpha01 (schema {unknown[-1]}); "
                "update alpha01, or restore a backup made by this version"
            )

    def schema_version(self) -> str:
        applied = mig.migrations.applied(self.db)
        return applied[-1].name if applied else ""

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: all or nothing, and no reader ever sees half of it."""
        conn = self.conn
        if conn.in_transaction:  # nested: a savepoint inside the outer transaction
            with self.db.atomic():
                yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def checkpoint(self) -> None:
        """Move the WAL into the database file without waiting for readers."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()


def _pragmas(conn: sqlite3.Connection, *, write: bool) -> None:
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if write:
        # WAL: readers never block the writer. synchronous=NORMAL keeps every committed
        # transaction across a killed process (only a power cut may lose the last ones).
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() not in ("wal", "memory"):
            raise StorageError(f"cannot switch the database to WAL (journal_mode={mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoints (the only fsyncs in WAL mode) run when the engine is idle
        # (`Database.checkpoint`); this is only the safety net for a never-idle engine.
        conn.execute("PRAGMA wal_autocheckpoint = 8000")
