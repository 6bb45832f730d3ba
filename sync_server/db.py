"""The server's SQLite database: connection setup and its append-only named migrations.

Migrations use sqlite-utils' `Migrations` (a named set recorded in `_sqlite_migrations`). A
migration is never edited once released; a schema change is a new function appended below.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("sync_server")

# Seconds a connection waits for another writer before giving up with "database is locked".
BUSY_TIMEOUT_MS = 5000
# Pages of WAL after which the scan writer thread checkpoints as it commits.
WRITER_AUTOCHECKPOINT = 1000


# (name, DDL) in SQLite's spelling; PostgreSQL gets it translated (storage.pg_ddl). Append only.
SCHEMA: list[tuple[str, str]] = []


def _migration(name: str, ddl: str) -> None:
    SCHEMA.append((name, ddl))

    def apply(db: sqlite_utils.Database) -> None:
        _run_script(db, ddl)

    MIGRATIONS(name=name)(apply)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer server than this one."""


def refuse_unknown(applied_names: set[str]) -> None:
    known = {name for name, _ in SCHEMA}
    unknown = sorted(set(applied_names) - known)
    if unknown:
        raise SchemaTooNew(
            f"数据库由更新版本的服务器升级过（未知迁移 {', '.join(unknown)}），请升级本程序 / "
            f"the database was migrated by a newer server ({', '.join(unknown)}): upgrade this one")


_migration("0001_initial", """
        CREATE TABLE stores (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            fallback_contact TEXT NOT NULL DEFAULT '',
            daily_cap INTEGER NOT NULL DEFAULT 100,
            created_at REAL NOT NULL
        );
        CREATE TABLE admins (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            secret TEXT NOT NULL,
            created_at REAL NOT NULL,
            retired_at REAL
        );
        CREATE TABLE enrollment_codes (
            code_hash TEXT PRIMARY KEY,
            store_id INTEGER NOT NULL REFERENCES stores(id),
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL,
            device_id TEXT
        );
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            store_id INTEGER NOT NULL REFERENCES stores(id),
            name TEXT NOT NULL DEFAULT '',
            secret_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL,
            last_seen REAL,
            version TEXT NOT NULL DEFAULT '',
            channel_ok INTEGER NOT NULL DEFAULT 0,
            channel_detail TEXT NOT NULL DEFAULT '',
            open_chats INTEGER NOT NULL DEFAULT 0,
            friends_today INTEGER NOT NULL DEFAULT 0,
            friends_day INTEGER NOT NULL DEFAULT 0,
            wechat_name TEXT NOT NULL DEFAULT '',
            qr_image BLOB,
            qr_mime TEXT,
            qr_sha TEXT,
            web_chat_url TEXT NOT NULL DEFAULT '',
            daily_cap INTEGER,
            routed_today INTEGER NOT NULL DEFAULT 0,
            routed_day INTEGER NOT NULL DEFAULT 0,
            last_routed_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX devices_store ON devices(store_id);
        CREATE INDEX devices_qr_sha ON devices(qr_sha);
        CREATE TABLE qr_tokens (
            jti TEXT PRIMARY KEY,
            store_id INTEGER NOT NULL REFERENCES stores(id),
            channel TEXT NOT NULL,
            kid TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL,
            revoked_at REAL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            store_id INTEGER NOT NULL,
            channel TEXT NOT NULL,
            jti TEXT NOT NULL,
            device_id TEXT,
            outcome TEXT NOT NULL,
            binding_code TEXT
        );
        CREATE INDEX scans_store_at ON scans(store_id, at);
        CREATE INDEX scans_binding ON scans(binding_code);
        """)

# Shared between server instances: rate-limit buckets and the scan replay memory.
_migration("0002_shared_limits", """
        CREATE TABLE rate_buckets (
            key TEXT PRIMARY KEY,
            tokens REAL NOT NULL,
            at REAL NOT NULL,
            full_at REAL NOT NULL
        );
        CREATE INDEX rate_buckets_full ON rate_buckets(full_at);
        CREATE TABLE scan_replays (
            key TEXT PRIMARY KEY,
            until_at REAL NOT NULL,
            answer TEXT NOT NULL
        );
        CREATE INDEX scan_replays_until ON scan_replays(until_at);
        CREATE INDEX scans_at ON scans(at);
        CREATE TABLE server_secrets (
            name TEXT PRIMARY KEY,
            secret TEXT NOT NULL
        );
        """)


# Alerts a device raised (WeChat logged out, UI changed, sends failing ...) for the owner's alert
# list; `key` makes a device's retry of the same alert land once.
_migration("0003_device_alerts", """
        CREATE TABLE device_alerts (
            id INTEGER PRIMARY KEY,
            device_id TEXT NOT NULL REFERENCES devices(id),
            store_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            at REAL NOT NULL,
            received_at REAL NOT NULL,
            channel TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL,
            UNIQUE (device_id, key)
        );
        CREATE INDEX device_alerts_store ON device_alerts(store_id, id)
        """)


# Health per channel: a device reports each channel's state (`channels`, a JSON object
# {"wechat": {"ok": true, "detail": ""}, "web": {...}}), kept whole; `wechat_ok` / `web_ok` are
# what routing reads (NULL: the device reported no per-channel health, its `channel_ok` counts).
# A QR token's `target` says what its scans need: `wechat` (the landing page with the device's
# WeChat QR), `web` (a redirect to the device's web chat) or `any` (either; tokens minted before).
# A store's `owner` groups the stores of one owner (a server may serve several): a device reads
# the alerts of its owner's stores ('' : its own store's only).
_migration("0004_channel_health", """
        ALTER TABLE devices ADD COLUMN channels TEXT;
        ALTER TABLE devices ADD COLUMN wechat_ok INTEGER;
        ALTER TABLE devices ADD COLUMN web_ok INTEGER;
        ALTER TABLE qr_tokens ADD COLUMN target TEXT NOT NULL DEFAULT 'any';
        ALTER TABLE stores ADD COLUMN owner TEXT NOT NULL DEFAULT ''
        """)


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # Not executescript(): it commits first, which would break the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def connect(path: str | Path, autocheckpoint: bool = True,
            busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A raw autocommit connection tuned for the server (WAL, short fsyncs, busy timeout).

    Autocommit means every multi-statement change opens its own `BEGIN IMMEDIATE`, so the
    write lock is taken before anything is read that the change depends on. With
    `busy_timeout_ms=0` a statement that finds the lock taken fails at once (SQLITE_BUSY).
    """
    conn = sqlite3.connect(
        str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_size_limit=67108864")  # shrink a WAL that grew past 64 MB
    if not autocheckpoint:
        # The server checkpoints from a background thread instead (see Checkpointer): the
        # checkpoint's fsync then never stalls a request that happens to commit page 1000.
        conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


class Checkpointer:
    """Copies the WAL back into the database every `interval_s`, off the request path.

    PASSIVE checkpoints never wait for readers or writers, so requests are not blocked; the
    fsync happens here. Under sustained writes a passive checkpoint never catches up, so once
    the WAL passes `wal_limit_bytes` a RESTART checkpoint briefly holds writers back (they wait
    within their busy timeout) and the log starts over. Several server processes may each run
    one; they simply take turns.
    """

    def __init__(self, path: str | Path, interval_s: float = 1.0,
                 wal_limit_bytes: int = 256 * 1024 * 1024):
        self.path = path
        self.interval_s = interval_s
        self.wal_limit_bytes = wal_limit_bytes
        self.wal_path = Path(f"{path}-wal")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        conn = connect(self.path)
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if self.wal_path.exists() and self.wal_path.stat().st_size > self.wal_limit_bytes:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error as exc:  # keep trying: a stopped checkpointer grows the WAL
                    logging.getLogger("sync_server").warning("checkpoint failed: %s", exc)
        finally:
            conn.close()


def migrate(path: str | Path) -> None:
    """Create the database if needed and apply every pending migration.

    The database holds the QR signing keys: it (and its WAL, which SQLite creates with the
    database's mode) is readable by the server's user only, as is a folder made for it.
    """
    protect(path)
    conn = connect(path)
    try:
        db = sqlite_utils.Database(conn)
        if db["_sqlite_migrations"].exists():
            refuse_unknown({r[0] for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'sync_server'")})
        MIGRATIONS.apply(db)
    finally:
        conn.close()


def protect(path: str | Path) -> None:
    """0600 for the database file (created empty if missing) and its -wal/-shm; 0700 for a
    folder made here. POSIX only: on Windows the server's folder ACL is the administrator's."""
    path = Path(path)
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        if os.name == "posix":
            os.chmod(path.parent, 0o700)
    if os.name != "posix":
        return
    # Created only when missing: opening and closing a descriptor of a database this process
    # already has open would drop SQLite's POSIX locks on it (close() releases every lock the
    # process holds on the file), and that connection would then read a stale snapshot.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except FileNotFoundError:
            pass


def applied(path: str | Path) -> list[str]:
    conn = connect(path)
    try:
        return [m.name for m in MIGRATIONS.applied(sqlite_utils.Database(conn))]
    finally:
        conn.close()
