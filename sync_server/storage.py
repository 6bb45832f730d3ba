"""Where the server keeps its state: SQLite (one file, the default) or PostgreSQL (several
server instances sharing one database).

`open_storage(target)` picks the backend: a `postgresql://…` (or `postgres://…`) URL opens a
psycopg 3 connection pool, anything else is a SQLite file path. Both offer the same small
interface the service is written against:

- `conn`: a connection-like object for single statements outside a transaction (`execute`
  returns rows that answer to both `row[0]` and `row["name"]`, and `dict(row)`);
- `write()`: a context manager yielding the same kind of object inside one transaction;
- `lock_store(c, store_id)`: inside `write()`, serialise everything that claims a store's
  device slots (SQLite's `BEGIN IMMEDIATE` already did; PostgreSQL locks the store's row);
- `applied()`, `close()`.

SQL is written once, in SQLite's spelling (`?` and `:name` parameters, `REAL`, `BLOB`); the
PostgreSQL backend rewrites parameters to psycopg's and types in migrations to PostgreSQL's.
Migrations are numbered, append-only and shared (`db.SCHEMA`); a database that carries a
migration this code does not know is refused rather than written to.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import db as dbmod

PG_SCHEMES = ("postgresql://", "postgres://")
# Seconds: waiting for a pooled connection, a connection attempt, one statement, one lock.
PG_POOL_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 5
PG_STATEMENT_TIMEOUT_MS = 10_000
PG_LOCK_TIMEOUT_MS = 5_000
# Any constant: the advisory lock that lets one instance at a time apply migrations.
_MIGRATION_LOCK = 0x616C7068  # "alph"


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(PG_SCHEMES)


def open_storage(target: str | Path, *, pool_max: int = 10) -> Storage:
    if is_postgres(target):
        return PostgresStorage(str(target), pool_max=pool_max)
    return SqliteStorage(Path(target))


def redact(target: str | Path) -> str:
    """The target for messages: a PostgreSQL URL without its password."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(target))


class InvalidText(ValueError):
    """Text the database cannot store (PostgreSQL refuses NUL characters): a 400, not a 500."""

    status = 400


def _check_text(params: Any) -> None:
    values = params.values() if isinstance(params, dict) else params
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidText("text must not contain NUL (\\u0000) characters")


class Busy(Exception):
    """`write_nowait()` found the write lock held by another connection; nothing was written."""


class Storage:
    kind = ""
    # Whether `write_nowait()` exists: a write that fails at once rather than wait for a lock.
    can_write_nowait = False

    @property
    def conn(self) -> Any:
        raise NotImplementedError

    @contextmanager
    def write(self) -> Iterator[Any]:
        raise NotImplementedError
        yield

    @contextmanager
    def write_nowait(self) -> Iterator[Any]:
        raise NotImplementedError
        yield

    def lock_store(self, c: Any, store_id: int) -> None:
        """Inside `write()`: hold the store's slot-claim lock until the transaction ends."""

    def applied(self) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Close this thread's connection (SQLite) or the pool (PostgreSQL)."""


# -- SQLite ------------------------------------------------------------------------------------


class SqliteStorage(Storage):
    """One file; each thread its own connection; every write transaction `BEGIN IMMEDIATE`,
    so it holds the database's single write lock from its first read."""

    kind = "sqlite"
    can_write_nowait = True

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self.autocheckpoint = True
        dbmod.migrate(path)

    @property
    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = dbmod.connect(self.path, autocheckpoint=self.autocheckpoint)
        return conn

    @contextmanager
    def write(self) -> Iterator[Any]:
        with _transaction(self.conn) as conn:
            yield conn

    @contextmanager
    def write_nowait(self) -> Iterator[Any]:
        """`write()` that never waits: Busy at once if another connection (a thread, a
        process, another instance, a checkpoint restarting the log) holds the write lock.
        This thread's second connection, without auto-checkpoints: its commits append to
        the WAL and never copy it back (the background Checkpointer does), and with WAL's
        `synchronous=NORMAL` a commit does not fsync. So the event loop can use it."""
        conn = getattr(self._local, "nowait", None)
        if conn is None:
            conn = self._local.nowait = dbmod.connect(self.path, autocheckpoint=False,
                                                      busy_timeout_ms=0)
        try:
            with _transaction(conn) as c:
                yield c
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
                raise Busy(str(exc)) from exc
            raise

    def applied(self) -> list[str]:
        return dbmod.applied(self.path)

    def close(self) -> None:
        for name in ("conn", "nowait"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                conn.close()
                setattr(self._local, name, None)


@contextmanager
def _transaction(conn: Any) -> Iterator[Any]:
    """One `BEGIN IMMEDIATE` transaction on a SQLite connection: rolled back when the body
    fails or the commit does (a failed COMMIT would otherwise leave it open, holding the lock)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# -- PostgreSQL --------------------------------------------------------------------------------


class Row(tuple):
    """A result row like sqlite3.Row: by position, by column name, and `dict(row)`."""

    _names: tuple[str, ...] = ()

    def __new__(cls, names: tuple[str, ...], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    return lambda values: Row(names, values)


class Result:
    """A statement's rows, fetched in full (the connection goes back to the pool at once)."""

    def __init__(self, rows: list[Row], rowcount: int):
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Row]:
        rest = self._rows[self._next:]
        self._next = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


_PARAM = re.compile(r"\?|(?<![:\w]):([A-Za-z_]\w*)")
_translated: dict[str, str] = {}


def pg_sql(sql: str) -> str:
    """SQLite's `?` / `:name` parameters as psycopg's `%s` / `%(name)s` (cached)."""
    found = _translated.get(sql)
    if found is None:
        escaped = sql.replace("%", "%%")
        found = _PARAM.sub(lambda m: "%s" if m.group(0) == "?" else f"%({m.group(1)})s", escaped)
        if len(_translated) < 10_000:
            _translated[sql] = found
    return found


_PG_TYPES = [
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
]


def pg_ddl(sql: str) -> str:
    """A migration's DDL in PostgreSQL's types (timestamps as double precision, ids bigint)."""
    for pattern, replacement in _PG_TYPES:
        sql = pattern.sub(replacement, sql)
    return sql


class _PgConn:
    """Runs statements on one psycopg connection, in SQLite's parameter spelling."""

    def __init__(self, conn: Any):
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> Result:
        _check_text(params)
        cur = self._conn.execute(pg_sql(sql), params)
        rows = cur.fetchall() if cur.description else []
        return Result(rows, cur.rowcount)

    def executemany(self, sql: str, seq: Any) -> None:
        seq = list(seq)
        for params in seq:
            _check_text(params)
        with self._conn.cursor() as cur:
            cur.executemany(pg_sql(sql), seq)


class _PgAuto:
    """`conn` for PostgreSQL: each statement borrows a pooled connection (autocommit)."""

    def __init__(self, storage: PostgresStorage):
        self._storage = storage

    def execute(self, sql: str, params: Any = ()) -> Result:
        _check_text(params)  # before borrowing a connection
        with self._storage.pool.connection() as conn:
            return _PgConn(conn).execute(sql, params)


class PostgresStorage(Storage):
    """A psycopg 3 connection pool. Write transactions run at READ COMMITTED; anything that
    claims a store's slots first locks that store's row (`SELECT … FOR UPDATE`), so routing is
    atomic across every server instance on the database."""

    kind = "postgres"

    def __init__(self, url: str, *, pool_max: int = 10):
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self._psycopg = psycopg
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max(2, pool_max), timeout=PG_POOL_TIMEOUT_S,
            kwargs={"autocommit": True, "row_factory": _row_factory,
                    "connect_timeout": PG_CONNECT_TIMEOUT_S},
            configure=self._configure, open=False, name="sync_server",
        )
        try:
            self.pool.open(wait=True, timeout=PG_POOL_TIMEOUT_S)
        except Exception as exc:
            self.pool.close()
            raise RuntimeError(f"cannot connect to PostgreSQL at {redact(url)}: {exc}") from exc
        self._auto = _PgAuto(self)
        try:
            self.migrate()
        except BaseException:
            self.pool.close()
            raise

    @staticmethod
    def _configure(conn: Any) -> None:
        conn.execute(f"SET statement_timeout = {PG_STATEMENT_TIMEOUT_MS}")
        conn.execute(f"SET lock_timeout = {PG_LOCK_TIMEOUT_MS}")

    @property
    def conn(self) -> Any:
        return self._auto

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PgConn(conn)

    def lock_store(self, c: Any, store_id: int) -> None:
        c.execute("SELECT id FROM stores WHERE id = ? FOR UPDATE", (store_id,))

    def retryable(self, exc: BaseException) -> bool:
        """A deadlock or serialization failure: the transaction may simply be run again."""
        errors = self._psycopg.errors
        return isinstance(exc, errors.DeadlockDetected | errors.SerializationFailure)

    def migrate(self) -> None:
        with self.write() as c:
            # One instance at a time; the others wait here, then find nothing left to do.
            c.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            c.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            done = {r[0] for r in c.execute("SELECT name FROM schema_migrations")}
            dbmod.refuse_unknown(done)
            for name, ddl in dbmod.SCHEMA:
                if name in done:
                    continue
                for statement in pg_ddl(ddl).split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))

    def applied(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM schema_migrations ORDER BY name")]

    def close(self) -> None:
        self.pool.close()
