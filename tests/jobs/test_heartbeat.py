"""The `heartbeat` job reports everything the sync server routes by: the web chat's URL, the
open chats and today's new friends (a beat without them used to blank them on the server)."""

from __future__ import annotations

import time

import httpx
import pytest

from alpha01.jobs import tasks
from alpha01.jobs.runner import Job, JobRunner
from sync_server.service import SyncService
from tests.sync_server.sync_helpers import LiveServer

from .conftest import say

pytestmark = pytest.mark.timeout(90)


def test_the_heartbeat_job_sends_web_chat_url_open_chats_and_friends_today(shop, tmp_path):
    engine, channel, clock, app = shop(paced=False, start=time.time())
    db = tmp_path / "server.db"
    admin = SyncService(db)
    admin.init_admin()
    store = admin.add_store("一号店", "电话 010-1234")
    code, _ = admin.create_enrollment_code(store["id"])
    device = admin.enroll(code, "收银台")
    admin.heartbeat(device["device_id"], {"wechat_name": "旧名字", "open_chats": 9})
    server = LiveServer(db)
    try:
        # Today: two customers wrote, one new friend was added; the shop runs its web chat.
        channel.report["url"] = "https://shop.example/chat"  # what WebChannel.health() says
        say(engine, channel, clock, "顾客甲", "你好，在吗")
        say(engine, channel, clock, "顾客乙", "请问几点开门")
        engine.store.event("new-friend", clock.now())
        settings = app.settings.with_overrides(sync={
            "server": server.url, "device_id": device["device_id"],
            "device_secret": device["device_secret"]})
        runner = JobRunner(settings=settings, paths=app.paths, engine=engine, clock=clock)
        job = Job(id=1, name="heartbeat", kind="heartbeat", schedule="*/1 * * * *", params={})
        assert tasks.heartbeat(runner, job, "k1", clock.now()) == {"sent": 1}
        seen = admin.list_devices(store["id"])[0]
        assert seen["online"] and seen["channel_ok"]
        assert seen["web_chat_url"] == "https://shop.example/chat"
        assert (seen["open_chats"], seen["friends_today"]) == (2, 1)
        assert seen["version"]
    finally:
        server.stop()
        admin.close()


def test_per_channel_health_from_the_channels_routes_each_qr_over_real_http(tmp_path):
    """Device A: WeChat logged out, web chat running. Device B: WeChat fine. Their beats come
    from their channels' health; a WeChat QR lands on B, a web QR still redirects to A."""
    from alpha01.channels.fake import FakeChannel
    from alpha01.sync.client import HeartbeatLoop, SyncClient

    db = tmp_path / "server.db"
    admin = SyncService(db)
    admin.init_admin()
    store = admin.add_store("一号店", "电话 010-1234")
    devices = []
    for name in ("甲", "乙"):
        code, _ = admin.create_enrollment_code(store["id"])
        devices.append(admin.enroll(code, name))
    a_wechat, a_web, b_wechat = FakeChannel("wechat"), FakeChannel("web"), FakeChannel("wechat")
    a_wechat.unavailable = "微信未登录"
    a_web.report["url"] = "https://shop.example/chat"
    server = LiveServer(db)
    try:
        for device, channels in zip(devices, ([a_wechat, a_web], [b_wechat]), strict=True):
            client = SyncClient(server.url, device["device_id"], device["device_secret"])
            loop = HeartbeatLoop(client, lambda chs=channels: tasks.device_status(
                chs, lambda: (0, 0)), interval_s=30)
            assert loop.beat_once(), loop.last_error
            client.close()
        a, b = (d["device_id"] for d in devices)
        seen = {d["id"]: d for d in admin.list_devices(store["id"])}
        assert seen[a]["channels"] == {"wechat": {"ok": False, "detail": "微信未登录"},
                                       "web": {"ok": True, "detail": ""}}
        assert (seen[a]["channel_ok"], seen[a]["wechat_ok"], seen[a]["web_ok"]) == (
            False, False, True)
        wechat_qr = admin.mint(store["id"], "门口", None, "admin", target="wechat")["token"]
        web_qr = admin.mint(store["id"], "网页", None, "admin", target="web")["token"]
        for _ in range(3):
            page = httpx.get(f"{server.url}/q/{wechat_qr}", timeout=10)
            assert page.status_code == 200 and "店码" in page.text
            went = httpx.get(f"{server.url}/q/{web_qr}", timeout=10)
            assert went.status_code == 302
            assert went.headers["location"].startswith("https://shop.example/chat?bind=")
        routed = {(r["channel"], r["device_id"], r["outcome"]) for r in admin.scan_stats()}
        assert routed == {("门口", b, "device"), ("网页", a, "redirect")}
    finally:
        server.stop()
        admin.close()
