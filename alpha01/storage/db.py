"""Opening the database: encryption, WAL, pragmas, migrations, the refusal of a newer schema.

One process-wide writer owns the write connection (the engine thread); readers (the TUI, the
CLI's reports) open their own read-only connections with `Database.open_reader`.

The home's database is encrypted with SQLCipher (`Database.open_home`): a raw 256-bit key from
the vault (alpha01/vault.py), so opening costs no key derivation. A database opened without a
key (tests, benchmarks, `Database.memory`) is plain SQLite through the standard library. Without
the sqlcipher3 package an encrypted home cannot be opened: that is a StorageError in Chinese, not
a silent fall back to plain text.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from ..errors import SchemaTooNewError, StorageError
from ..paths import private_file
from . import migrations as mig

if TYPE_CHECKING:
    from ..paths import Paths

_HEX_KEY = re.compile(r"^[0-9a-f]{64}$")
# SQLCipher tuning (scripts/bench pipeline measures it against plain SQLite). Every page a commit
# writes is encrypted and authenticated on its own, and the engine commits small transactions:
# 1 KiB pages (SQLCipher 3's size) make that about three times cheaper than 4 KiB ones. The
# setting is part of the file format: every connection, the in-place encryption and the backups
# use this one value. A page-cache miss costs a decryption, so the cache may grow to 32 MB; and
# sqlcipher3 re-prepares statements more often than the standard library unless its statement
# cache is larger.
CIPHER_PAGE_SIZE = 1024
CACHE_KIB = 32_000
STATEMENT_CACHE = 512
NO_SQLCIPHER = ("数据库已加密，但缺少 sqlcipher3 组件，无法打开。请重新安装 alpha01"
                "（pip install sqlcipher3），或使用安装包里的程序。")


class Database:
    """The alpha01 database: a sqlite-utils Database plus our transaction helper."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None,
                 key: str | None = None) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.path = path
        self.key = key  # None: a plain SQLite file

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    @property
    def row_type(self) -> Any:
        """The driver's Row class (sqlite3.Row cannot read a sqlcipher3 cursor)."""
        return sqlcipher().Row if self.key is not None else sqlite3.Row

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, migrate: bool = True, key: str | None = None) -> Database:
        """Open (creating if needed) the database for writing and bring its schema up to date.

        `key`: the SQLCipher raw key (64 hex digits) of an encrypted file; None for plain SQLite.

        Raises:
            SchemaTooNewError: the file was written by a newer alpha01.
            StorageError: the file is not a database, the key is wrong, or it cannot be opened.
        """
        path = Path(path)
        try:
            conn = connect(path, key=key)
            _pragmas(conn, write=True)
            db = cls(sqlite_utils.Database(conn, execute_plugins=False), path, key)
            db.check_schema()
            if migrate:
                mig.migrations.apply(db.db)
        except db_errors() as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        return db

    @classmethod
    def open_reader(cls, path: Path | str, *, key: str | None = None) -> Database:
        """A read-only connection for the TUI and reports (never writes, never blocks the writer)."""
        path = Path(path)
        try:
            conn = connect(path, key=key, readonly=True)
            _pragmas(conn, write=False)
        except db_errors() as exc:
            raise StorageError(f"cannot open database {path} for reading: {exc}") from exc
        return cls(sqlite_utils.Database(conn, execute_plugins=False), path, key)

    @classmethod
    def open_home(cls, paths: Paths, *, reader: bool = False) -> Database:
        """The home's database, encrypted with the home's key; a plain one is encrypted first
        (in place, crash-safe: see storage/encrypt.py)."""
        from ..vault import DB_KEY, MOVED_HINT, Vault
        from .encrypt import encrypt_in_place, is_plain

        vault = Vault(paths.home)
        encrypted = paths.db.exists() and paths.db.stat().st_size > 0 and not is_plain(paths.db)
        if encrypted and not vault.get(DB_KEY):
            raise StorageError(f"数据库 {paths.db} 已加密，但这台电脑上没有它的密钥。{MOVED_HINT}")
        key: str | None = vault.database_key()
        if is_plain(paths.db):
            if reader:  # the writer has not encrypted it yet: read it as it is
                key = None
            else:
                encrypt_in_place(paths.db, key)
        try:
            db = cls.open_reader(paths.db, key=key) if reader else cls.open(paths.db, key=key)
        except SchemaTooNewError:
            raise
        except StorageError as exc:
            raise StorageError(f"{exc}。{MOVED_HINT}" if encrypted else str(exc)) from exc
        for suffix in ("", "-wal", "-shm"):
            private_file(paths.db.with_name(paths.db.name + suffix))
        if not reader and key is not None:
            # backups an older version left in plain text are encrypted with the same key
            for backup in sorted(paths.backups.glob("alpha01-*.db")):
                if is_plain(backup):
                    encrypt_in_place(backup, key)
                private_file(backup)
        return db

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
        with contextlib.suppress(*db_errors()):
            self.conn.close()


def sqlcipher() -> Any:
    """The sqlcipher3 driver, imported on first use."""
    try:
        import sqlcipher3
    except ImportError as exc:
        raise StorageError(NO_SQLCIPHER) from exc
    return sqlcipher3


def db_errors() -> tuple[type[BaseException], ...]:
    """The database errors of both drivers (sqlcipher3's do not derive from sqlite3's)."""
    try:
        import sqlcipher3
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, sqlcipher3.Error)


def connect(path: Path | str, *, key: str | None, readonly: bool = False,
            timeout: float = 10.0) -> Any:
    """A raw autocommit connection: plain SQLite without a key, SQLCipher with one."""
    target = f"file:{path}?mode=ro" if readonly else str(path)
    if key is None:
        return sqlite3.connect(target, uri=readonly, timeout=timeout, check_same_thread=False,
                               isolation_level=None)
    if not _HEX_KEY.match(key):
        raise StorageError("数据库密钥格式不对（应为 64 位十六进制）")
    driver = sqlcipher()
    conn = driver.connect(target, uri=readonly, timeout=timeout, check_same_thread=False,
                          isolation_level=None, cached_statements=STATEMENT_CACHE)
    conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our error, not stderr noise
    conn.execute(f"PRAGMA key = \"x'{key}'\"")
    conn.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a wrong key fails here
    return conn


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
