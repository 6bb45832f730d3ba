"""Group commit for QR scans (see ScanWriter)."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from . import db as dbmod
from .service import ScanAsk, ScanOutcome, SyncService
from .storage import Busy

_PRUNE = object()  # a queue message: forget expired scan state


class ScanWriter:
    """Group commit for scans: queued scans are handled in batches, one transaction (and one
    commit) per batch: rate-limit buckets, the replay memory, the device choice and slot
    claim, and the attribution rows (SyncService.scan_batch).

    Each scan in a batch is still chosen and claimed under the write lock, in arrival order,
    so the one-slot-left guarantee is unchanged; what is shared is the commit, which is what a
    busy QR code would otherwise pay for on every request.

    Where the batch runs:
    - SQLite with the background checkpointer running: on the event loop itself. The scans
      that arrive in one turn of the loop are gathered and written together right after it,
      with a transaction that never waits (storage.write_nowait): no lock wait, no checkpoint,
      no fsync (WAL, synchronous=NORMAL), only the SQL and an append to the log. Handing each
      batch to a thread and back cost more than the batch itself (the GIL changes hands at
      every statement). When another process or instance holds the lock, that batch goes to
      the writer thread, which waits for the lock within the busy timeout.
    - PostgreSQL (a network round trip per statement): always the writer thread; the event
      loop awaits a future the thread resolves, one wake-up per batch.
    """

    def __init__(self, service: SyncService, max_batch: int = 256, inline: bool | None = None):
        self.service = service
        self.max_batch = max_batch
        self.inline = (service.storage.can_write_nowait and service.checkpointing
                       if inline is None else inline)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="scan-writer", daemon=True)
        self._stopping = False
        self._gathered: dict[Any, list[tuple[ScanAsk, Any]]] = {}  # per event loop
        self.handed_over = 0  # batches the event loop passed to the thread (lock was taken)

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
        if not self.inline or self._stopping:
            self._queue.put((ask, loop, future))
            return await future
        gathered = self._gathered.get(loop)
        if gathered is None:
            gathered = self._gathered[loop] = []
            loop.call_soon(self._write_gathered, loop)
        gathered.append((ask, future))
        return await future

    def _write_gathered(self, loop: Any) -> None:
        """On the event loop: this turn's scans in one transaction, or to the thread."""
        batch = self._gathered.pop(loop, [])
        for start in range(0, len(batch), self.max_batch):
            part = batch[start:start + self.max_batch]
            now = self.service.clock()
            try:
                outcomes = self.service.scan_batch([ask for ask, _ in part], now, wait=False)
            except Busy:
                self.handed_over += 1
                for ask, future in part:
                    self._queue.put((ask, loop, future))
                continue
            except Exception as exc:  # scan_batch reports failures per entry; a bug guard
                outcomes = [exc] * len(part)
            _resolve_all(list(zip((f for _, f in part), outcomes, strict=True)))
            if self.service.prune_due(now):
                self._queue.put(_PRUNE)

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
            if first is _PRUNE:
                self._prune()
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._stopping = True
                    break
                if item is _PRUNE:
                    self._prune()
                    continue
                batch.append(item)
            self._process(batch)
            if self._stopping and self._queue.empty():
                return

    def _prune(self) -> None:
        try:
            self.service.prune()
        except Exception:  # expired rows wait for the next minute; scans carry on
            logging.getLogger("sync_server").exception("pruning scan state failed")

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
