"""Every WeChat failure mode reaches the owner within 60 s: the TUI, the notification hook and
the sync server's alert list (a real server on loopback, this PC enrolled)."""

from __future__ import annotations

import shlex
import sys
import time

import httpx
import pytest

from alpha01.alerts import AlertRelay
from alpha01.sync.client import SyncClient
from sync_server.service import SyncService

HOOK = "import sys; open(sys.argv[1], 'a', encoding='utf-8').write(sys.argv[2] + '\\n')"
MODES = ["window_lost", "logged_out", "ui_empty", "listener_dead", "version", "send_failing"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.sync_server.sync_helpers import LiveServer

    db = tmp_path_factory.mktemp("alerts") / "server.db"
    admin = SyncService(db)
    token = admin.init_admin()
    store = admin.add_store("一号店")
    code, _ = admin.create_enrollment_code(store["id"])
    device = admin.enroll(code, name="收银台")
    live = LiveServer(db)
    yield live, device, {"Authorization": f"Bearer {token}"}
    live.stop()
    admin.close()


def _wait(cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    return cond()


def _break(world, mode):
    if mode == "version":
        world.version = "3.9.12.55"
    elif mode == "listener_dead":
        world.listener_dead = world.listener_stuck = True
    elif mode == "send_failing":
        world.fail_next_send("网络异常", times=10)
        world.customer_says("小王", "你们几点开门？")
    else:
        setattr(world, mode, True)


@pytest.mark.parametrize("mode", MODES)
def test_each_failure_reaches_the_tui_the_hook_and_the_server_within_60s(make_wx, server,
                                                                          tmp_path, mode):
    live, device, admin = server
    rig = make_wx(chats=[("小王", ())], wechat={"watchdog_interval_s": 15.0})
    tui: list[dict] = []  # the TUI listens to the same engine events (Alpha01App._from_engine)
    rig.engine.listeners.append(lambda kind, data: tui.append(data) if kind == "alert" else 0)
    shown: list[tuple[str, str]] = []
    hook_file = tmp_path / "hook.txt"
    hook = " ".join(shlex.quote(p) for p in (sys.executable, "-c", HOOK, str(hook_file)))
    client = SyncClient(live.url, device["device_id"], device["device_secret"])
    relay = AlertRelay(client=client, hook=hook, clock=rig.clock.now,
                       notifier=lambda title, text: shown.append((title, text))).start()
    rig.engine.listeners.append(relay)
    try:
        started = rig.clock.now()
        _break(rig.wx, mode)
        rig.settle(rounds=6)  # 60 s on the rig's clock
        assert tui, f"{mode}: no alert from the engine"
        detail = tui[0]["detail"]
        assert _wait(lambda: relay.delivered), f"{mode}: alert not delivered"
        alert = relay.delivered[0]
        assert alert.at - started <= 60
        assert shown and detail in shown[0][1]
        assert detail in hook_file.read_text(encoding="utf-8")
        rows = httpx.get(live.url + "/api/v1/alerts", headers=admin, timeout=10).json()
        mine = [r for r in rows if r["kind"] == "device_alert" and r["at"] == alert.at]
        assert mine and mine[0]["device_name"] == "收银台" and mine[0]["store_name"] == "一号店"
        assert detail.endswith(mine[0]["detail"]) or mine[0]["detail"] in detail
        assert mine[0]["at"] - started <= 60
    finally:
        relay.stop()
        client.close()


def test_an_offline_server_gets_the_alert_once_when_it_is_back(server):
    live, device, admin = server
    calls: list[str] = []

    class Flaky(SyncClient):
        def post_alert(self, key, detail, channel="", at=None):
            calls.append(key)
            if len(calls) < 3:  # the first two tries: the server cannot be reached
                SyncClient("http://127.0.0.1:9", "dev_x", "dsk_y", timeout=1.0).post_alert(
                    key, detail, channel, at)
            result = super().post_alert(key, detail, channel, at)
            super().post_alert(key, detail, channel, at)  # a retry after a lost answer
            return result

    client = Flaky(live.url, device["device_id"], device["device_secret"])
    relay = AlertRelay(client=client, desktop=False, retry_s=(0.05,)).start()
    try:
        relay("alert", {"detail": "微信已退出登录", "channel": "wechat"})
        relay("message", {"text": "not an alert"})
        assert _wait(lambda: relay.delivered)
    finally:
        relay.stop()
        client.close()
    assert len(calls) == 3 and len(set(calls)) == 1  # the same key every time
    rows = httpx.get(live.url + "/api/v1/alerts", headers=admin, timeout=10).json()
    assert sum(r.get("detail") == "微信已退出登录" for r in rows
               if r["kind"] == "device_alert") == 1


def test_a_failing_hook_is_retried_and_never_blocks_the_engine(tmp_path):
    marker = tmp_path / "n"
    code = ("import sys, pathlib; p = pathlib.Path(sys.argv[1]); n = int(p.read_text() or 0) "
            "if p.exists() else 0; p.write_text(str(n + 1)); sys.exit(0 if n >= 1 else 3)")
    hook = " ".join(shlex.quote(p) for p in (sys.executable, "-c", code, str(marker)))
    relay = AlertRelay(hook=hook, desktop=False, retry_s=(0.05,)).start()
    try:
        started = time.monotonic()
        relay("alert", {"detail": "发送失败"})
        assert time.monotonic() - started < 0.05  # the engine thread only enqueues
        assert _wait(lambda: relay.delivered)
    finally:
        relay.stop()
    assert marker.read_text() == "2"


def test_through_the_real_tui_with_the_hook_and_server_from_settings(server, tmp_path):
    """`alpha01 tui` wiring: the relay comes from settings ([alerts] hook, [sync] enrolment)."""
    pytest.importorskip("textual")
    import asyncio

    from alpha01.app import AppContext, build_engine
    from alpha01.channels.wechat import WeChatChannel
    from alpha01.channels.wechat.fake_wx import FakeWeChat
    from alpha01.demo import demo_passages
    from alpha01.llm.fake import FakeLLM
    from alpha01.paths import Paths
    from alpha01.pipeline.retrieval import MemoryRetriever
    from alpha01.tui.app import Alpha01App
    from tests.tui.conftest import wait_for

    live, device, admin = server
    hook_file = tmp_path / "hook.txt"
    ctx = AppContext(paths=Paths(tmp_path / "shop").ensure())
    ctx.settings = ctx.settings.with_overrides(
        engine={"aggregate_window_s": 0.0, "poll_interval_s": 0.05}, pacing={"enabled": False},
        wechat={"listen": ["小王"], "watchdog_interval_s": 0.5},
        alerts={"hook": " ".join(shlex.quote(p) for p in (sys.executable, "-c", HOOK,
                                                          str(hook_file)))},
        sync={"server": live.url, "device_id": device["device_id"],
              "device_secret": device["device_secret"], "heartbeat_s": 3600})
    world = FakeWeChat(nickname="果然鲜")
    world.add_chat("小王")
    channel = WeChatChannel(ctx.settings, lib=world.module, version_probe=lambda: world.version)
    engine = build_engine(ctx, channels=[channel], llm=FakeLLM("好的"),
                          retriever=MemoryRetriever(demo_passages(), faq_threshold=0.8))
    app = Alpha01App(ctx, engine, idle_sleep=0.05)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: channel.health().ok, what="WeChat up")
            started = time.time()
            world.logged_out = True
            await wait_for(pilot, lambda: any("logged out" in n.message or "not reachable"
                                              in n.message for n in app._notifications),
                           timeout=60, what="the TUI notification")
            await wait_for(pilot, lambda: hook_file.exists(), timeout=30, what="the hook")
            return started

    started = asyncio.run(go())
    assert time.time() - started < 60

    def on_server():
        rows = httpx.get(live.url + "/api/v1/alerts", headers=admin, timeout=10).json()
        return [r for r in rows if r["kind"] == "device_alert" and r["at"] >= started - 1
                and r["channel"] == "wechat"
                and r["detail"] != "微信已退出登录"]  # not the offline test's

    rows = _wait(on_server)  # posted by the relay after the hook (or retried meanwhile)
    assert rows and min(r["received_at"] for r in rows) - started < 60
    ctx.close()
