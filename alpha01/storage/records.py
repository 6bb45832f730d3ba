"""What a channel may read and keep in the home's database, without opening it itself.

The composition root (app.build_channel) hands a channel one `ChannelRecords` for its name; the
channel sees only the methods of `channels.base.Records` (a chat's earlier turns, a sync cursor,
whether intake stored a message, which chat a customer is). The connection is the records'
own, opened on first use: read-only when the channel only reads (the web chat's history), a
connection of its own when it keeps a cursor (微信客服). SQL stays here and in queries.py.
"""

from __future__ import annotations

import threading
from typing import Any

from .db import Database
from .queries import Store


class ChannelRecords:
    def __init__(self, channel: str, *, paths: Any = None, db: Database | None = None,
                 reader: bool = False) -> None:
        """`db`: a database the caller owns (kept open on close); else the home of `paths`
        (opened on first use), else a fresh in-memory one."""
        self.channel = channel
        self.paths = paths
        self.reader = reader
        self._db = db
        self._own = db is None
        self._store: Store | None = None
        self._lock = threading.Lock()

    def _open(self) -> Store | None:
        """The store, opened on first use; None when a reader's home has no database yet."""
        if self._store is None:
            if self._db is None:
                if self.paths is None:
                    self._db = Database.memory()
                elif self.reader and not self.paths.db.exists():
                    return None
                else:
                    self._db = Database.open_home(self.paths, reader=self.reader)
            self._store = Store(self._db)
        return self._store

    def history(self, chat: str, items: int) -> list[tuple[str, ...]]:
        """Earlier turns of this channel's `chat`, oldest first, with their keys."""
        with self._lock:
            store = self._open()
            if store is None:
                return []
            found = [c for c in store.find_customers(chat)
                     if c.channel == self.channel and c.chat == chat]
            if not found:
                return []
            return store.history(found[0].id, items, keys=True)

    def cursor(self, name: str) -> str:
        with self._lock:
            store = self._open()
            assert store is not None
            return store.cursor(name)

    def set_cursor(self, name: str, value: str, now: float) -> None:
        with self._lock:
            store = self._open()
            assert store is not None and self._db is not None
            with self._db.tx():
                store.set_cursor(name, value, now)

    def seen(self, key: str) -> bool:
        """Did intake store this channel's message under dedupe key `key`?"""
        with self._lock:
            store = self._open()
            return store is not None and store.seen(self.channel, key)

    def customer_chat(self, customer_id: int) -> str | None:
        """The chat of customer `customer_id` when it is one of this channel's, else None."""
        with self._lock:
            store = self._open()
            customer = store.customer_by_id(customer_id) if store is not None else None
            if customer is None or customer.channel != self.channel:
                return None
            return customer.chat

    def close(self) -> None:
        with self._lock:
            if self._own and self._db is not None:
                self._db.close()
            self._db = None
            self._store = None

