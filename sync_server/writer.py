"""Group commit for QR scans (see ScanWriter)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

from . import db as dbmod
from .service import ScanAsk, ScanOutcome, SyncService


class ScanWriter:
    """Group commit for scans: one thread owns the write path and handles queued scans in
    batches, one transaction (and one commit) per batch: rate-limit buckets, the replay
    memory, the device choice and slot claim, and the attribution rows (SyncService.scan_batch).

    Each scan in a batch is still chosen and claimed under the write lock, in arrival order,
    so the one-slot-left guarantee is unchanged; what is shared is the commit, which is what a
    busy QR code would otherwise pay for on every request. The event loop never waits on the
    database (lock, network round trip or checkpoint): it awaits a future the writer resolves.
    """

    def __init__(self, service: SyncService, max_batch: int = 256):
        self.service = service
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="scan-writer", daemon=True)
        self._stopping = False

    def start(self) -> ScanWriter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout=10)

    async def submit(self, ask: ScanAsk) -> ScanOutcome:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((ask, loop, future))
        return await future

    def _run(self) -> None:
        # On SQLite this thread may checkpoint as it commits (SQLite's default of every 1000
        # pages): the event loop does not wait for it, scans queued meanwhile go out in the
        # next batch, and the background PASSIVE checkpoints have usually copied most pages.
        if self.service.storage.kind == "sqlite":
            self.service.conn.execute(f"PRAGMA wal_autocheckpoint={dbmod.WRITER_AUTOCHECKPOINT}")
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._stopping = True
                    break
                batch.append(item)
            self._process(batch)
            if self._stopping and self._queue.empty():
                return

    def _process(self, batch: list) -> None:
        try:
            outcomes = self.service.scan_batch([ask for ask, _, _ in batch], self.service.clock())
        except Exception as exc:  # scan_batch reports failures per entry; this is a bug guard
            outcomes = [exc] * len(batch)
        # One wake-up per event loop per batch, not one per scan.
        by_loop: dict[Any, list[tuple[Any, Any]]] = {}
        for outcome, (_ask, loop, future) in zip(outcomes, batch, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, done in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, done)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass


def _resolve_all(done: list[tuple[Any, Any]]) -> None:
    for future, outcome in done:
        setter = future.set_exception if isinstance(outcome, Exception) else future.set_result
        _resolve(future, setter, outcome)


def _resolve(future: Any, setter: Callable[[Any], None], value: Any) -> None:
    if not future.done():  # the client may have gone away and the request been cancelled
        setter(value)
