"""Where a batch of scans is written: on SQLite, on the event loop with a transaction that
never waits; when the write lock is taken, on the writer thread, which waits for it. The
event loop keeps answering either way, and no scan is lost or answered twice."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import httpx
import pytest

from sync_server import db as dbmod
from sync_server.service import ScanAsk, ServerConfig, SyncService
from sync_server.storage import Busy
from sync_server.writer import ScanWriter

from .sync_helpers import Clock, enroll_device

pytestmark = pytest.mark.timeout(90)

UNLIMITED = ServerConfig(scan_ip_per_min=1e9, scan_token_per_min=1e9)


def _store(service: SyncService, cap: int = 100) -> tuple[str, str]:
    service.init_admin()
    store = service.add_store("一号店", "电话 010-1234", daily_cap=cap)
    device = enroll_device(service, store["id"], wechat_name="小美")
    return service.mint(store["id"], "门口", None, "admin")["token"], device["device_id"]


def _asks(service: SyncService, token: str, n: int) -> list[ScanAsk]:
    claims = service.verify(token, service.clock())
    # n different customers (addresses), so each scan claims a slot of its own
    return [ScanAsk(claims, [(f"ip:198.51.100.{i}", 1e6, 1e6)], replay=[f"a:198.51.100.{i}"],
                    remember=[(f"a:198.51.100.{i}", 600.0)]) for i in range(n)]


def _hold_write_lock(path) -> sqlite3.Connection:
    other = dbmod.connect(path)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_write_nowait_fails_at_once_when_the_lock_is_taken(tmp_path):
    service = SyncService(tmp_path / "s.db", UNLIMITED)
    token, _ = _store(service)
    other = _hold_write_lock(tmp_path / "s.db")
    started = time.monotonic()
    with pytest.raises(Busy):
        service.scan_batch(_asks(service, token, 3), service.clock(), wait=False)
    assert time.monotonic() - started < 0.5  # no busy wait (the timeout is 5 s)
    other.execute("ROLLBACK")
    other.close()
    assert service.conn.execute("SELECT count(*) FROM scans").fetchone()[0] == 0
    outcomes = service.scan_batch(_asks(service, token, 3), service.clock(), wait=False)
    assert [o.result.kind for o in outcomes] == ["device"] * 3
    service.close()


def test_one_turn_of_the_loop_is_one_transaction_on_the_loop(tmp_path):
    service = SyncService(tmp_path / "s.db", UNLIMITED)
    token, device_id = _store(service)
    service.start_checkpointer()
    writer = ScanWriter(service).start()
    assert writer.inline
    commits = []
    real = service.storage.write_nowait

    def counted():
        commits.append(threading.current_thread().name)
        return real()

    service.storage.write_nowait = counted

    async def scan_all():
        return await asyncio.gather(*(writer.submit(a) for a in _asks(service, token, 20)))

    outcomes = asyncio.run(scan_all())
    writer.stop()
    assert [o.result.kind for o in outcomes] == ["device"] * 20
    assert commits == ["MainThread"] and writer.handed_over == 0
    assert service.list_devices()[0]["routed_today"] == 20
    service.close()


def test_a_taken_lock_hands_the_batch_to_the_thread_and_the_loop_stays_free(tmp_path):
    service = SyncService(tmp_path / "s.db", UNLIMITED)
    token, _ = _store(service, cap=5)
    service.start_checkpointer()
    writer = ScanWriter(service).start()
    other = _hold_write_lock(tmp_path / "s.db")
    ticks = []

    async def main():
        scans = asyncio.gather(*(writer.submit(a) for a in _asks(service, token, 8)))
        for _ in range(10):  # the loop keeps running while the thread waits for the lock
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)
        other.execute("COMMIT")
        return await asyncio.wait_for(scans, timeout=10)

    outcomes = asyncio.run(main())
    other.close()
    writer.stop()
    assert writer.handed_over == 1
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.3
    # the cap still holds across the hand-over: five routed, three sent to the fallback
    assert [o.result.kind for o in outcomes] == ["device"] * 5 + ["fallback"] * 3
    assert service.conn.execute("SELECT count(*) FROM scans").fetchone()[0] == 8
    service.close()


def test_pruning_asked_for_by_the_loop_runs_on_the_thread(tmp_path):
    clock = Clock()
    service = SyncService(tmp_path / "s.db", UNLIMITED, clock=clock)
    token, device_id = _store(service)
    service.start_checkpointer()
    writer = ScanWriter(service).start()

    async def scan(n):
        return await asyncio.gather(*(writer.submit(a) for a in _asks(service, token, n)))

    asyncio.run(scan(2))
    assert service.conn.execute("SELECT count(*) FROM scan_replays").fetchone()[0] == 2
    clock.advance(3600)  # the replay window (600 s) is long over
    service.heartbeat(device_id, {"channel_ok": True, "wechat_name": "小美"})
    asyncio.run(scan(1))  # this batch remembers one new scanner, then asks for a prune
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = service.conn.execute("SELECT count(*) FROM scan_replays").fetchone()[0]
        if left == 1:
            break
        time.sleep(0.05)
    assert left == 1
    writer.stop()
    service.close()


def test_a_live_server_answers_while_another_process_holds_the_lock(tmp_path, live_server):
    db = tmp_path / "live.db"
    service = SyncService(db)
    token, _ = _store(service)
    second = service.mint(1, "收银台", None, "admin")["token"]  # a scan that is no replay
    server = live_server(db)
    assert httpx.get(f"{server.url}/q/{token}", timeout=10).status_code == 200
    other = _hold_write_lock(db)
    result: dict = {}
    scan = threading.Thread(target=lambda: result.update(
        r=httpx.get(f"{server.url}/q/{second}", timeout=15)))
    scan.start()
    time.sleep(0.5)
    started = time.monotonic()
    health = httpx.get(f"{server.url}/health", timeout=5)
    assert health.status_code == 200 and time.monotonic() - started < 1.0
    assert scan.is_alive()  # the scan waits for the lock, off the event loop
    other.execute("COMMIT")
    other.close()
    scan.join(15)
    assert result["r"].status_code == 200 and "店码" in result["r"].text
    service.close()
