"""Encrypting an existing plain database in place, so that a crash at any moment loses nothing.

1. The plain file leaves WAL mode (its WAL folded in and removed), so it is one whole file.
2. `sqlcipher_export` copies it into `alpha01.db.encrypting`, encrypted with the home's key.
3. The copy is checked: `integrity_check` ok and every table holds as many rows as the plain one.
4. The copy is fsync'd and renamed over the plain file (atomic), the folder fsync'd.

Killed before 4, the plain file is still there, whole, and the next start begins again (the
half-made copy is thrown away); killed after 4, the database is encrypted. The key is in the
vault before step 2 starts, so an encrypted file never exists without its key.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..errors import StorageError
from ..paths import exclusive, fsync_dir, private_file
from .db import CIPHER_PAGE_SIZE, connect, db_errors, sqlcipher

log = logging.getLogger("alpha01.storage")

HEADER = b"SQLite format 3\x00"


def is_plain(path: Path) -> bool:
    """A plain (unencrypted) SQLite file: its first 16 bytes say so; SQLCipher's are random."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == HEADER
    except FileNotFoundError:
        return False


def encrypt_in_place(path: Path, key: str) -> dict[str, int]:
    """Replace the plain database at `path` by an encrypted copy; returns the rows per table
    (none when another process got there first: it is encrypted already)."""
    # One process at a time (the exe started twice): the other waits, then finds it done.
    with exclusive(path.with_name(path.name + ".lock"), wait_s=900):
        return _encrypt(path, key) if is_plain(path) else {}


def _encrypt(path: Path, key: str) -> dict[str, int]:
    started = time.monotonic()
    work = path.with_name(path.name + ".encrypting")
    for leftover in (work, work.with_name(work.name + "-journal")):
        leftover.unlink(missing_ok=True)
    try:
        plain = connect(path, key=None)
        try:
            # One whole file: the WAL folded in and gone (a -wal left beside the encrypted file
            # would be read as part of it).
            plain.execute("PRAGMA journal_mode = DELETE")
            tables = [r[0] for r in plain.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%'")]
            counts = {t: plain.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                      for t in tables}
            version = plain.execute("PRAGMA user_version").fetchone()[0]
        finally:
            plain.close()
        # The copy is made by a SQLCipher connection on the plain file (no key: plain).
        conn = sqlcipher().connect(str(path), timeout=10.0, isolation_level=None)
        try:
            conn.execute(f"ATTACH DATABASE ? AS enc KEY \"x'{key}'\"", [str(work)])
            conn.execute(f"PRAGMA enc.cipher_page_size = {CIPHER_PAGE_SIZE}")
            conn.execute("SELECT sqlcipher_export('enc')")
            conn.execute(f"PRAGMA enc.user_version = {int(version)}")
            conn.execute("DETACH DATABASE enc")
        finally:
            conn.close()
        private_file(work)
        check = connect(work, key=key)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0]
            copied = {t: check.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                      for t in tables}
        finally:
            check.close()
    except db_errors() as exc:
        raise StorageError(f"数据库加密失败（原文件未改动）：{exc}") from exc
    if ok != "ok" or copied != counts:
        work.unlink(missing_ok=True)
        raise StorageError(f"数据库加密后的校验没有通过（原文件未改动）：{ok}; {copied} != {counts}")
    fd = os.open(work, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(work, path)
    fsync_dir(path.parent)
    log.info("database encrypted in place: %d tables, %d rows, %.1f s", len(counts),
             sum(counts.values()), time.monotonic() - started)
    return counts

