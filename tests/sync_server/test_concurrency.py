"""One slot left, fifty simultaneous scans: exactly one is routed to the device."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from sync_server.service import SyncService

from .sync_helpers import enroll_device

SCANS = 50


def seed_one_slot_left(db_path) -> tuple[SyncService, str, str]:
    service = SyncService(db_path)
    service.init_admin()
    store = service.add_store("一号店", "电话 010-1234", daily_cap=10)
    device = enroll_device(service, store["id"], wechat_name="小美")
    token = service.mint(store["id"], "门口", None, "admin")["token"]
    for _ in range(9):  # use nine of the ten slots
        assert service.scan(token).kind == "device"
    return service, token, device["device_id"]

pytestmark = pytest.mark.timeout(90)  # a hung server must not hang the suite


def test_fifty_concurrent_http_scans_route_exactly_one(new_db, live_server):
    db = new_db("c")
    service, token, device_id = seed_one_slot_left(db)
    # Two worker processes racing on one database: the claim must hold across processes too.
    # Fifty customers behind a trusted proxy (one scanner's repeats would be one scan).
    server = live_server(db, "--workers", "2", "--scan-ip-per-min", "100000",
                         "--trusted-proxy", "127.0.0.1")

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=SCANS)
        async with httpx.AsyncClient(base_url=server.url, timeout=15.0, limits=limits) as client:
            return await asyncio.gather(*(
                client.get(f"/q/{token}", headers={"x-forwarded-for": f"198.51.100.{i}"})
                for i in range(SCANS)))

    responses = asyncio.run(asyncio.wait_for(fire(), timeout=30))
    assert all(r.status_code == 200 for r in responses), {r.status_code for r in responses}
    landed = [r for r in responses if "店码" in r.text]
    fallback = [r for r in responses if "客服暂时都在忙" in r.text]
    assert len(landed) == 1 and len(fallback) == SCANS - 1
    routed = service.conn.execute(
        "SELECT count(*) FROM scans WHERE device_id = ?", (device_id,)).fetchone()[0]
    assert routed == 10
    assert service.list_devices()[0]["routed_today"] == 10


def test_fifty_threads_on_their_own_connections_route_exactly_one(new_db):
    db = new_db("t")
    service, token, _ = seed_one_slot_left(db)
    barrier = threading.Barrier(SCANS)
    kinds: list[str] = []
    lock = threading.Lock()

    def scan():
        own = SyncService(db, pool_max=2)  # its own connection, like another server
        own.on_device_chosen = lambda: time.sleep(0.005)  # a wide window for any race
        barrier.wait(timeout=10)
        kind = own.scan(token).kind
        own.close()
        with lock:
            kinds.append(kind)

    threads = [threading.Thread(target=scan) for _ in range(SCANS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert kinds.count("device") == 1 and kinds.count("fallback") == SCANS - 1
