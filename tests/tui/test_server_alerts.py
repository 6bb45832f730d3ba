"""The owner's alerts from the sync server appear on the dashboard: a real server on loopback,
the real heartbeat loop fetching them, the real app driven by Textual's pilot."""

from __future__ import annotations

import time

import pytest

from sync_server.service import SyncService
from tests.sync_server.sync_helpers import LiveServer

from .conftest import make_rig, run, wait_for

pytestmark = pytest.mark.timeout(120)

SIZE = (150, 40)


def _enroll(admin: SyncService, store_id: int, name: str) -> dict:
    code, _ = admin.create_enrollment_code(store_id)
    return admin.enroll(code, name=name)


def _bar_text(app) -> str:
    from alpha01.tui.widgets import ServerAlertsBar

    try:
        bar = app.screen.query_one(ServerAlertsBar)
    except Exception:
        return ""
    return str(bar.render()) if bar.display else ""


def test_the_dashboard_shows_the_servers_alerts_and_drops_them_when_solved(tmp_path):
    db = tmp_path / "server.db"
    admin = SyncService(db)
    admin.init_admin()
    store = admin.add_store("一号店", "电话 010-1234")
    other = admin.add_store("二号店")
    this_pc = _enroll(admin, store["id"], "收银台")
    back_room = _enroll(admin, store["id"], "后台电脑")
    admin.heartbeat(back_room["device_id"], {
        "channels": {"wechat": {"ok": False, "detail": "微信未登录"}}})
    # A PC that last beat three minutes ago: offline.
    past = SyncService(db, clock=lambda: time.time() - 180)
    past.heartbeat(_enroll(past, store["id"], "前台电脑")["device_id"], {"channel_ok": True})
    past.close()
    # Another store's trouble is not this shop's.
    stranger = _enroll(admin, other["id"], "别家")
    admin.heartbeat(stranger["device_id"], {"channel_ok": False, "channel_detail": "别家掉线"})
    server = LiveServer(db)
    rig = make_rig(tmp_path / "shop")
    rig.ctx.settings = rig.ctx.settings.with_overrides(sync={
        "server": server.url, "device_id": this_pc["device_id"],
        "device_secret": this_pc["device_secret"], "heartbeat_s": 0.2, "alerts_s": 1.0})
    try:
        async def go():
            async with rig.app.run_test(size=SIZE, notifications=True) as pilot:
                await wait_for(pilot, lambda: "微信掉线" in _bar_text(rig.app), timeout=20,
                               what="the WeChat alert on the dashboard")
                text = _bar_text(rig.app)
                assert "服务器提醒" in text and "设备离线" in text and "后台电脑" in text
                assert "一号店" in text and "别家" not in text
                await wait_for(pilot, lambda: any(
                    "微信未登录" in n.message and "服务器提醒" in n.title
                    for n in rig.app._notifications), what="a notice of the new alert")
                # This PC beat: the server sees it online with its own channels.
                seen = [d for d in admin.list_devices(store["id"])
                        if d["id"] == this_pc["device_id"]][0]
                assert seen["online"]
                assert seen["channels"] == {"fake": {"ok": True, "detail": ""}}

                # The back room logs WeChat in again: the alert goes away on the next fetch.
                admin.heartbeat(back_room["device_id"], {"channels": {"wechat": {"ok": True}}})
                await wait_for(pilot, lambda: "微信掉线" not in _bar_text(rig.app), timeout=20,
                               what="the WeChat alert to clear")
                assert "设备离线" in _bar_text(rig.app)
                shown = len(rig.app._notifications)
                await pilot.pause(2.5)  # more fetches of the same alerts: no new toasts
                assert len(rig.app._notifications) <= shown
        run(go())
    finally:
        server.stop()
        admin.close()


def test_no_bar_when_not_enrolled(rig):
    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            await pilot.pause(1.2)
            assert rig.app.server_alerts is None
            assert _bar_text(rig.app) == ""
    run(go())
