"""Several server instances on one database behave as one; routing follows channel health;
a status update never blanks what it did not send; the owner's stats and alerts.

Every test here runs on SQLite and on PostgreSQL (the `new_db` fixture)."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from sync_server.service import ServerConfig, SyncService

from .sync_helpers import enroll_device

pytestmark = pytest.mark.timeout(120)

SCANS = 200


def _seed(target, cap: int, used: int, devices: int = 1) -> tuple[SyncService, dict, str, list]:
    service = SyncService(target)
    service.init_admin()
    store = service.add_store("一号店", "电话 010-1234", daily_cap=cap)
    made = [enroll_device(service, store["id"], wechat_name=f"小美{i}") for i in range(devices)]
    token = service.mint(store["id"], "门口", None, "admin")["token"]
    for _ in range(used):
        assert service.scan(token).kind == "device"
    return service, store, token, made


def test_two_instances_200_concurrent_scans_one_free_slot(new_db, live_server):
    target = new_db("two")
    service, store, token, devices = _seed(target, cap=10, used=9)
    # Two server instances (separate processes, as on two machines) on the same database;
    # 200 different customers behind the trusted proxy, spread over both.
    flags = ("--scan-ip-per-min", "1e9", "--scan-token-per-min", "1e9",
             "--trusted-proxy", "127.0.0.1")
    servers = [live_server(target, *flags), live_server(target, *flags)]

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=SCANS)
        clients = [httpx.AsyncClient(base_url=s.url, timeout=30.0, limits=limits)
                   for s in servers]
        try:
            return await asyncio.gather(*(
                clients[i % 2].get(f"/q/{token}",
                                   headers={"x-forwarded-for": f"198.51.{i // 250}.{i % 250}"})
                for i in range(SCANS)))
        finally:
            for c in clients:
                await c.aclose()

    responses = asyncio.run(asyncio.wait_for(fire(), timeout=60))
    codes = {r.status_code for r in responses}
    assert codes == {200}, codes  # no 500, no 503
    # The served app's front door (GET /q before FastAPI) keeps the security headers.
    assert all("content-security-policy" in r.headers and "x-frame-options" in r.headers
               for r in responses)
    landed = [r for r in responses if "店码" in r.text]
    fallback = [r for r in responses if "客服暂时都在忙" in r.text]
    assert len(landed) == 1 and len(fallback) == SCANS - 1
    assert service.list_devices()[0]["routed_today"] == 10
    for server in servers:
        assert "Traceback" not in server.errors(), server.errors()[-3000:]
    stats = service.stats(store["id"], since=0)
    by_outcome = {r["outcome"]: r["scans"] for r in stats["scans"]}
    assert by_outcome == {"device": 10, "fallback": SCANS - 1}
    service.close()


def test_replay_memory_and_rate_limits_are_shared_between_instances(new_db, live_server):
    target = new_db("shared")
    service, store, token, _ = _seed(target, cap=100, used=0)
    a = live_server(target, "--scan-ip-per-min", "1e9", "--scan-token-per-min", "1e9")
    b = live_server(target, "--scan-ip-per-min", "1e9", "--scan-token-per-min", "1e9")
    # One phone (keeping its cookie) scanning again and again, answered by either instance.
    pages = set()
    with httpx.Client(timeout=10) as phone:  # cookies ignore the port: one jar for both
        for i in range(20):
            r = phone.get(f"{(a, b)[i % 2].url}/q/{token}")
            assert r.status_code == 200
            pages.add(r.text)
        assert "a01scan" in phone.cookies
    # The same scanner without its cookie (same address) on the other instance: same answer.
    pages.add(httpx.get(f"{b.url}/q/{token}", timeout=10).text)
    assert len(pages) == 1 and "店码" in pages.pop()
    assert service.list_devices()[0]["routed_today"] == 1
    for server in (a, b):
        server.stop()

    # 10 scans a minute per address (burst 5): alternating instances share one bucket.
    c = live_server(target, "--scan-ip-per-min", "10")
    d = live_server(target, "--scan-ip-per-min", "10")
    codes = [httpx.get(f"{(c, d)[i % 2].url}/q/{token}", timeout=10).status_code
             for i in range(12)]
    assert codes.count(429) >= 6, codes  # per-process buckets would have let 10 through
    assert codes[:5] == [200] * 5
    service.close()


def test_failover_channel_down_or_silent_device(new_db, clock):
    service = SyncService(new_db("failover"), ServerConfig(), clock=clock)
    service.init_admin()
    store = service.add_store("一号店", "电话 010-1234", daily_cap=100)
    a = enroll_device(service, store["id"], wechat_name="甲")["device_id"]
    b = enroll_device(service, store["id"], wechat_name="乙")["device_id"]
    token = service.mint(store["id"], "门口", None, "admin")["token"]
    assert {service.scan(token).device_id for _ in range(4)} == {a, b}  # both take customers

    # A's WeChat logs out: its next beat says so, and new scans go to B only.
    service.heartbeat(a, {"channel_ok": False, "channel_detail": "微信未登录"})
    assert {service.scan(token).device_id for _ in range(5)} == {b}
    alerts = {(x["kind"], x["device_id"]) for x in service.alerts()}
    assert ("channel_down", a) in alerts

    # A is back; then B's PC goes quiet: past the online window it gets nobody.
    service.heartbeat(a, {"channel_ok": True})
    clock.advance(service.config.online_window_s - 10)
    service.heartbeat(a, {})  # A keeps beating (an empty beat keeps its state)
    clock.advance(11)
    assert {service.scan(token).device_id for _ in range(5)} == {a}
    assert ("device_offline", b) in {(x["kind"], x["device_id"]) for x in service.alerts()}

    # Neither usable: the fallback page, and the store alert says why.
    service.heartbeat(a, {"channel_ok": False})
    assert service.scan(token).kind == "fallback"
    assert "store_unavailable" in {x["kind"] for x in service.alerts(store["id"])}
    service.close()


def test_a_web_chat_device_down_gets_no_redirects(service, store_factory):
    store = store_factory()
    web = enroll_device(service, store["id"], web_chat_url="https://shop.example/chat")
    plain = enroll_device(service, store["id"])
    token = service.mint(store["id"], "x", None, "admin")["token"]
    assert {service.scan(token).kind for _ in range(2)} == {"redirect", "device"}
    service.heartbeat(web["device_id"], {"channel_ok": False, "channel_detail": "网页客服停止"})
    found = [service.scan(token) for _ in range(3)]
    assert {(r.kind, r.device_id) for r in found} == {("device", plain["device_id"])}


def test_a_status_update_never_blanks_fields_it_did_not_send(api, service, store_factory):
    store = store_factory()
    device = enroll_device(service, store["id"], wechat_name="小美", open_chats=3,
                           friends_today=2, web_chat_url="https://shop.example/chat",
                           channel_detail="ok")
    for body in ({}, {"channel_ok": True}, {"version": "9.9"}):
        r = api.post("/api/v1/heartbeat", json=body, headers=device["auth"])
        assert r.status_code == 200, r.text
        me = api.get("/api/v1/me", headers=device["auth"]).json()
        assert (me["wechat_name"], me["open_chats"], me["friends_today"], me["web_chat_url"],
                me["channel_ok"]) == ("小美", 3, 2, "https://shop.example/chat", True), body
    # What is sent is stored, "" included (the web chat was switched off).
    api.post("/api/v1/heartbeat", json={"web_chat_url": "", "open_chats": 0},
             headers=device["auth"])
    me = api.get("/api/v1/me", headers=device["auth"]).json()
    assert (me["web_chat_url"], me["open_chats"], me["friends_today"]) == ("", 0, 2)


def test_stats_and_alerts_api(api, service, store_factory, clock):
    store = store_factory(cap=2)
    a = enroll_device(service, store["id"], wechat_name="甲")
    token = service.mint(store["id"], "海报", None, "admin")["token"]
    kinds = [service.scan(token).kind for _ in range(3)]
    assert kinds == ["device", "device", "fallback"]
    assert api.get("/api/v1/stats").status_code == 401
    assert api.get("/api/v1/stats", headers=a["auth"]).status_code == 403
    stats = api.get("/api/v1/stats", headers=api.admin).json()
    assert {(r["device_id"], r["outcome"], r["scans"]) for r in stats["scans"]} == {
        (a["device_id"], "device", 2), (None, "fallback", 1)}
    assert (stats["devices"], stats["devices_online"], stats["channels_down"]) == (1, 1, 0)
    alerts = api.get("/api/v1/alerts", headers=api.admin).json()
    assert {x["kind"] for x in alerts} == {"cap_reached", "store_unavailable"}
    assert all(x["message"] for x in alerts)
    clock.advance(3 * 3600)
    assert api.get("/api/v1/stats?hours=1", headers=api.admin).json()["scans_total"] == 0
    assert api.get("/api/v1/stats?hours=0", headers=api.admin).status_code == 422


@pytest.fixture
def store_factory(service):
    names = (f"{i}号店" for i in itertools.count(1))

    def make(cap: int = 100) -> dict:
        return service.add_store(next(names), "电话 010-1234", daily_cap=cap)
    return make
