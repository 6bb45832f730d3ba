"""Health per channel: a WeChat QR goes to a device whose WeChat works, a web QR to a device
whose web chat works; stats and alerts tell which channel is down. On SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from sync_server import db as dbmod
from sync_server.service import SyncService

from .sync_helpers import enroll_device

URL = "https://shop.example/chat"


def _channels(wechat: bool | None = True, web: bool | None = True, detail: str = "") -> dict:
    found = {}
    if wechat is not None:
        found["wechat"] = {"ok": wechat, "detail": "" if wechat else detail}
    if web is not None:
        found["web"] = {"ok": web, "detail": "" if web else detail}
    return {"channels": found}


def _where(service, token, n=6) -> set[tuple[str, str | None]]:
    return {(r.kind, r.device_id) for r in (service.scan(token) for _ in range(n))}


def test_wechat_down_on_a_sends_wechat_scans_to_b_and_web_scans_still_to_a(service, clock):
    store = service.add_store("一号店", "电话 010-1234", daily_cap=100)
    a = enroll_device(service, store["id"], wechat_name="甲", web_chat_url=URL,
                      **_channels())["device_id"]
    b = enroll_device(service, store["id"], wechat_name="乙", **_channels(web=None))["device_id"]
    wechat_qr = service.mint(store["id"], "门口", None, "admin", target="wechat")["token"]
    web_qr = service.mint(store["id"], "网页", None, "admin", target="web")["token"]
    either = service.mint(store["id"], "传单", None, "admin")["token"]
    assert _where(service, wechat_qr) == {("device", a), ("device", b)}  # A's URL unused
    assert _where(service, web_qr) == {("redirect", a)}  # B has no web chat
    assert _where(service, either) == {("redirect", a), ("device", b)}

    # A's WeChat logs out; its web chat keeps running.
    service.heartbeat(a, _channels(wechat=False, detail="微信未登录"))
    assert _where(service, wechat_qr) == {("device", b)}
    assert _where(service, web_qr) == {("redirect", a)}
    assert _where(service, either) == {("redirect", a), ("device", b)}
    me = [d for d in service.list_devices() if d["id"] == a][0]
    assert (me["channel_ok"], me["wechat_ok"], me["web_ok"]) == (False, False, True)
    assert me["channels"]["wechat"] == {"ok": False, "detail": "微信未登录"}

    down = [x for x in service.alerts() if x["kind"] == "channel_down"]
    assert [(x["device_id"], x["channel"], x["title"]) for x in down] == [(a, "wechat", "微信掉线")]
    assert [x for x in service.alerts() if x["kind"] == "target_unavailable"] == []  # B takes them
    assert "微信掉线" in down[0]["message"] and "微信未登录" in down[0]["message"]
    stats = service.stats()
    assert stats["channels_down_by_channel"] == {"wechat": 1}
    assert (stats["devices_taking_wechat"], stats["devices_taking_web"]) == (1, 1)
    health = {d["id"]: d for d in stats["device_health"]}
    assert (health[a]["wechat_ok"], health[a]["web_ok"], health[b]["wechat_ok"]) == (
        False, True, True)

    # Now the other way round: A's WeChat is back, its web chat stopped. Web scans have
    # nowhere to go (the fallback page), WeChat scans use both again.
    service.heartbeat(a, _channels(web=False, detail="网页客服停止"))
    assert _where(service, web_qr) == {("fallback", None)}
    assert _where(service, wechat_qr) == {("device", a), ("device", b)}
    assert _where(service, either) == {("device", a), ("device", b)}
    down = [x for x in service.alerts() if x["kind"] == "channel_down"]
    assert [(x["device_id"], x["channel"], x["title"]) for x in down] == [
        (a, "web", "网页客服掉线")]
    # The store still takes customers, but nobody takes its web codes: the owner is told.
    nobody = [x for x in service.alerts(store["id"]) if x["kind"] == "target_unavailable"]
    assert [(x["target"], x["title"]) for x in nobody] == [("web", "网页码无人接待")]
    service.revoke(service.jti_of(web_qr))  # no web codes in use: nothing to tell
    assert [x for x in service.alerts() if x["kind"] == "target_unavailable"] == []
    web_qr = service.mint(store["id"], "网页", None, "admin", target="web")["token"]

    # B's PC goes quiet: past the online window WeChat scans go to A only (failover).
    clock.advance(service.config.online_window_s - 10)
    service.heartbeat(a, {})
    clock.advance(11)
    assert _where(service, wechat_qr) == {("device", a)}
    assert ("device_offline", b) in {(x["kind"], x["device_id"]) for x in service.alerts()}

    # Both of A's channels down: nothing takes anyone, and the store alert says so.
    service.heartbeat(a, _channels(wechat=False, web=False, detail="断网"))
    assert _where(service, either, 2) == {("fallback", None)}
    kinds = [(x["kind"], x.get("channel")) for x in service.alerts(store["id"])]
    assert ("channel_down", "wechat") in kinds and ("channel_down", "web") in kinds
    assert ("store_unavailable", None) in kinds


def test_a_device_without_wechat_gets_no_wechat_scans(service):
    store = service.add_store("一号店")
    web_only = enroll_device(service, store["id"], web_chat_url=URL,
                             **_channels(wechat=None))["device_id"]
    wechat_qr = service.mint(store["id"], "门口", None, "admin", target="wechat")["token"]
    web_qr = service.mint(store["id"], "网页", None, "admin", target="web")["token"]
    assert service.scan(wechat_qr).kind == "fallback"
    assert _where(service, web_qr, 2) == {("redirect", web_only)}
    # Not a channel that is down: no channel alert for a WeChat it does not have.
    assert [x for x in service.alerts() if x["kind"] == "channel_down"] == []


def test_a_wecom_channel_takes_wechat_scans(service):
    store = service.add_store("一号店")
    device = enroll_device(service, store["id"], channels={"wecom": {"ok": True}})["device_id"]
    wechat_qr = service.mint(store["id"], "门口", None, "admin", target="wechat")["token"]
    assert _where(service, wechat_qr, 2) == {("device", device)}
    service.heartbeat(device, {"channels": {"wecom": {"ok": False, "detail": "会话存档断开"}}})
    assert service.scan(wechat_qr).kind == "fallback"
    assert [x["title"] for x in service.alerts() if x["kind"] == "channel_down"] == ["企业微信掉线"]


def test_a_device_reporting_one_flag_is_routed_as_before(service):
    store = service.add_store("一号店")
    old = enroll_device(service, store["id"], web_chat_url=URL)["device_id"]  # channel_ok only
    wechat_qr = service.mint(store["id"], "门口", None, "admin", target="wechat")["token"]
    web_qr = service.mint(store["id"], "网页", None, "admin", target="web")["token"]
    either = service.mint(store["id"], "传单", None, "admin")["token"]
    assert _where(service, wechat_qr, 2) == {("device", old)}
    assert _where(service, web_qr, 2) == {("redirect", old)}
    assert _where(service, either, 2) == {("redirect", old)}
    service.heartbeat(old, {"channel_ok": False, "channel_detail": "微信未登录"})
    for token in (wechat_qr, web_qr, either):
        assert service.scan(token).kind == "fallback"
    alert = [x for x in service.alerts() if x["kind"] == "channel_down"][0]
    assert alert["channel"] == "" and "微信未登录" in alert["message"]
    assert service.stats()["channels_down_by_channel"] == {"": 1}

    # Upgraded: per-channel health from now on. Downgraded again: its one flag counts again
    # for every channel (a stale per-channel state would otherwise outlive it).
    service.heartbeat(old, {"channel_ok": False, **_channels(wechat=False, detail="x")})
    assert _where(service, web_qr, 2) == {("redirect", old)}
    service.heartbeat(old, {"channel_ok": False})
    assert service.scan(web_qr).kind == "fallback"
    me = service.list_devices()[0]
    assert (me["channels"], me["wechat_ok"], me["web_ok"]) == (None, False, False)


def test_a_status_update_never_blanks_the_channels(api, service):
    store = service.add_store("一号店")
    device = enroll_device(service, store["id"], web_chat_url=URL)
    sent = {"wechat": {"ok": False, "detail": "微信未登录"}, "web": {"ok": True, "detail": ""}}
    r = api.post("/api/v1/heartbeat", json={"channels": sent}, headers=device["auth"])
    assert r.status_code == 200, r.text
    for body in ({}, {"version": "9.9"}, {"open_chats": 2}, {"web_chat_url": URL}):
        assert api.post("/api/v1/heartbeat", json=body, headers=device["auth"]).status_code == 200
        me = api.get("/api/v1/me", headers=device["auth"]).json()
        assert (me["channels"], me["wechat_ok"], me["web_ok"], me["channel_ok"]) == (
            sent, False, True, False), body
    # A new map replaces the old one whole (the device sends all its channels each beat).
    api.post("/api/v1/heartbeat", json={"channels": {"web": {"ok": True}}, "channel_ok": True},
             headers=device["auth"])
    me = api.get("/api/v1/me", headers=device["auth"]).json()
    assert (me["channels"], me["wechat_ok"], me["web_ok"], me["channel_ok"]) == (
        {"web": {"ok": True, "detail": ""}}, False, True, True)


def test_channels_and_targets_are_checked(api, service):
    store = service.add_store("一号店")
    device = enroll_device(service, store["id"])
    bad = [{"channels": {f"c{i}": {"ok": True} for i in range(17)}},
           {"channels": {"x" * 41: {"ok": True}}},
           {"channels": {"": {"ok": True}}},
           {"channels": {"wechat": {"ok": True, "detail": "x" * 201}}},
           {"channels": {"wechat": {"detail": "no ok"}}},
           {"channels": ["wechat"]},
           {"channels": {"wechat": {"ok": True, "detail": "a\x00b"}}}]
    for body in bad:
        r = api.post("/api/v1/heartbeat", json=body, headers=device["auth"])
        assert r.status_code in (400, 422), (body, r.text)
    assert api.get("/api/v1/me", headers=device["auth"]).json()["channels"] is None
    for target in ("wechat", "web", "any"):
        r = api.post("/api/v1/qr", json={"channel": "门口", "target": target}, headers=device["auth"])
        assert r.status_code == 201 and r.json()["target"] == target
        assert service.token_info(r.json()["jti"])["target"] == target
    assert api.post("/api/v1/qr", json={}, headers=device["auth"]).json()["target"] == "any"
    r = api.post("/api/v1/qr", json={"target": "sms"}, headers=device["auth"])
    assert r.status_code == 422


def test_a_device_reads_its_own_stores_alerts(api, service, clock):
    store = service.add_store("一号店", daily_cap=1)
    other = service.add_store("二号店")
    a = enroll_device(service, store["id"], **_channels(wechat=False, detail="微信未登录"))
    b = enroll_device(service, store["id"], **_channels(web=None))
    stranger = enroll_device(service, other["id"], channel_ok=False)
    token = service.mint(store["id"], "门口", None, "admin", target="wechat")["token"]
    assert service.scan(token).device_id == b["device_id"]  # B's one slot: 接待已满
    for i in range(30):
        service.add_alert(a["device_id"], store["id"], {"key": f"k{i}", "detail": f"发送失败{i}"})
    got = api.get("/api/v1/me/alerts", headers=b["auth"])
    assert got.status_code == 200
    alerts = got.json()
    assert len(alerts) == 20  # the default limit
    titles = [x["title"] for x in alerts]
    assert set(titles[:2]) == {"微信掉线", "接待已满"} and titles[2] == "无设备可接待"
    assert alerts[3]["detail"] == "发送失败29"  # then what devices posted, newest first
    assert {x["store_id"] for x in alerts} == {store["id"]}  # never another store's
    few = api.get("/api/v1/me/alerts?limit=2", headers=a["auth"]).json()
    assert {x["title"] for x in few} == {"微信掉线", "接待已满"}
    theirs = api.get("/api/v1/me/alerts", headers=stranger["auth"]).json()
    assert {x["store_id"] for x in theirs} == {other["id"]} and theirs
    assert api.get("/api/v1/me/alerts?limit=51", headers=a["auth"]).status_code == 422
    assert api.get("/api/v1/me/alerts?limit=0", headers=a["auth"]).status_code == 422
    assert api.get("/api/v1/me/alerts").status_code == 401
    assert api.get("/api/v1/me/alerts", headers=api.admin).status_code in (401, 403)


def _old_server(monkeypatch) -> None:
    """Make this process the server before per-channel health (migrations 0001-0003)."""
    old_schema = dbmod.SCHEMA[:3]
    old = Migrations("sync_server")
    for name, ddl in old_schema:
        old(name=name)(lambda db, ddl=ddl: dbmod._run_script(db, ddl))
    monkeypatch.setattr(dbmod, "SCHEMA", old_schema)
    monkeypatch.setattr(dbmod, "MIGRATIONS", old)


def test_a_database_of_the_previous_version_is_upgraded(new_db, clock, monkeypatch):
    target = new_db("upgrade")
    with monkeypatch.context() as m:
        _old_server(m)
        before = SyncService(target, clock=clock)
        before.init_admin()
        before.conn.execute("INSERT INTO stores (name, created_at) VALUES ('一号店', ?)",
                            (clock(),))
        store = before.list_stores()[0]
        code, _ = before.create_enrollment_code(store["id"])
        device = before.enroll(code, name="pc")
        # Written as that version did: a device's one flag, a token without a target.
        before.conn.execute("UPDATE devices SET last_seen = ?, channel_ok = 1, web_chat_url = ?"
                            " WHERE id = ?", (clock(), URL, device["device_id"]))
        keys = before.keys()
        before.conn.execute(
            "INSERT INTO qr_tokens (jti, store_id, channel, kid, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?)", ("oldjti", store["id"], "门口", keys.newest, clock(),
                                           "admin"))
        token = keys.sign(store["id"], "oldjti", None)
        assert before.storage.applied() == [n for n, _ in dbmod.SCHEMA]
        before.close()
    after = SyncService(target, clock=clock)
    try:
        assert after.storage.applied()[-1] == "0004_channel_health"
        assert after.token_info("oldjti")["target"] == "any"
        assert after.get_store(store["id"])["owner"] == ""
        me = after.list_devices()[0]
        assert (me["channels"], me["wechat_ok"], me["web_ok"]) == (None, True, True)
        assert _where(after, token, 2) == {("redirect", device["device_id"])}
    finally:
        after.close()


def test_sqlite_migration_set_is_the_schema():
    db = sqlite_utils.Database(memory=True)
    dbmod.MIGRATIONS.apply(db)
    assert [m.name for m in dbmod.MIGRATIONS.applied(db)] == [n for n, _ in dbmod.SCHEMA]
    assert {"channels", "wechat_ok", "web_ok"} <= set(db["devices"].columns_dict)
    assert db["qr_tokens"].columns_dict["target"] is str


def test_a_device_reads_the_alerts_of_its_owners_stores(api, service):
    first = service.add_store("一号店", owner="王老板")
    second = service.add_store("二号店", owner="王老板")
    alone = service.add_store("别家店")
    here = enroll_device(service, first["id"], **_channels())
    there = enroll_device(service, second["id"], **_channels(wechat=False, detail="微信未登录"))
    stranger = enroll_device(service, alone["id"], channel_ok=False)
    mine = api.get("/api/v1/me/alerts", headers=here["auth"]).json()
    assert [(x["store_name"], x["title"]) for x in mine] == [("二号店", "微信掉线"),
                                                             ("二号店", "无设备可接待")]
    assert {x["store_id"] for x in api.get("/api/v1/me/alerts", headers=there["auth"]).json()
            } == {second["id"]}
    theirs = api.get("/api/v1/me/alerts", headers=stranger["auth"]).json()
    assert {x["store_id"] for x in theirs} == {alone["id"]}
    # Another owner's stores are never seen, and a store can change hands.
    service.set_owner(second["id"], "李老板")
    assert api.get("/api/v1/me/alerts", headers=here["auth"]).json() == []
    assert service.owner_stores(alone["id"]) == [alone["id"]]
    r = api.post("/api/v1/stores", json={"name": "三号店", "owner": "王老板"}, headers=api.admin)
    assert r.status_code == 201 and r.json()["owner"] == "王老板"
    assert service.owner_stores(first["id"]) == [first["id"], r.json()["id"]]
