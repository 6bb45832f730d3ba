"""The `heartbeat` job reports everything the sync server routes by: the web chat's URL, the
open chats and today's new friends (a beat without them used to blank them on the server)."""

from __future__ import annotations

import time

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
        channel.chat_url = "https://shop.example/chat"  # what WebChannel.chat_url advertises
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
