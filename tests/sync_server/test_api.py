"""The API's behaviour: enrollment, heartbeat, online state, routing, limits, auth."""

from __future__ import annotations

import base64
import os
import stat

import pytest
import segno

from sync_server import db as dbmod
from sync_server.service import ServerConfig, SyncService

from .sync_helpers import enroll_device


def png_bytes(text: str = "wechat") -> bytes:
    import io

    buf = io.BytesIO()
    segno.make(text).save(buf, kind="png", scale=2)
    return buf.getvalue()


@pytest.fixture
def store(service):
    return service.add_store("一号店", "电话 010-1234", daily_cap=3)


def test_migrations_are_named_recorded_and_idempotent(new_db):
    target = new_db("m")
    SyncService(target).close()
    service = SyncService(target)
    assert service.storage.applied() == ["0001_initial", "0002_shared_limits",
                                        "0003_device_alerts", "0004_channel_health"]
    service.close()


def test_a_database_from_a_newer_server_is_refused(new_db):
    target = new_db("n")
    service = SyncService(target)
    table = ("_sqlite_migrations (migration_set, name, applied_at) VALUES ('sync_server', ?, 'x')"
             if service.storage.kind == "sqlite" else "schema_migrations (name) VALUES (?)")
    service.conn.execute(f"INSERT INTO {table}", ("0099_future",))
    service.close()
    with pytest.raises(dbmod.SchemaTooNew, match="0099_future"):
        SyncService(target)


@pytest.mark.skipif(os.name != "posix", reason="modes 0700/0600 are POSIX")
def test_the_database_with_the_signing_keys_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "srv" / "sync.db"
    service = SyncService(path)
    service.init_admin()
    service.add_store("一号店")
    assert service.db_path == path
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for suffix in ("", "-wal", "-shm"):
        f = tmp_path / "srv" / f"sync.db{suffix}"
        if f.exists():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    assert (tmp_path / "srv" / "sync.db-wal").exists()  # the WAL was checked, not skipped
    # an older server's database (0644) is closed to others when the server starts again
    os.chmod(path, 0o644)
    SyncService(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_nothing_works_without_credentials(api, store):
    assert api.get("/api/v1/stores").status_code == 401
    assert api.get("/api/v1/stores", headers={"Authorization": "Bearer adm_guess"}).status_code == 401
    assert api.post("/api/v1/heartbeat", json={}).status_code == 401
    bad_device = {"Authorization": "Bearer dev_x.dsk_y"}
    assert api.post("/api/v1/heartbeat", json={}, headers=bad_device).status_code == 401
    assert api.post("/api/v1/qr", json={"store_id": store["id"]}).status_code == 401


def test_a_device_is_not_an_admin(api, service, store):
    device = enroll_device(service, store["id"])
    assert api.get("/api/v1/stores", headers=device["auth"]).status_code == 403
    assert api.get("/api/v1/stores", headers=api.admin).status_code == 200


def test_enroll_heartbeat_and_online_state(api, service, store, clock):
    code = api.post(f"/api/v1/stores/{store['id']}/enrollment-codes", json={"minutes": 5},
                    headers=api.admin).json()["code"]
    enrolled = api.post("/api/v1/enroll", json={"code": code.lower(), "name": "收银台"}).json()
    assert enrolled["store_name"] == "一号店"
    auth = {"Authorization": f"Bearer {enrolled['device_id']}.{enrolled['device_secret']}"}
    # The secret is stored only as a hash.
    row = service.conn.execute("SELECT secret_hash FROM devices").fetchone()
    assert enrolled["device_secret"] not in row[0]

    devices = api.get("/api/v1/devices", headers=api.admin).json()
    assert devices[0]["online"] is False  # enrolled, never beat

    image = base64.b64encode(png_bytes()).decode()
    r = api.post("/api/v1/heartbeat", headers=auth, json={
        "channel_ok": True, "open_chats": 2, "friends_today": 1, "version": "0.1.0",
        "wechat_name": "小美", "wechat_qr": image})
    assert r.status_code == 200 and r.json()["has_qr_image"] is True
    d = api.get("/api/v1/devices", headers=api.admin).json()[0]
    assert (d["online"], d["wechat_name"], d["open_chats"], d["friends_today"]) == (True, "小美", 2, 1)
    assert api.get("/api/v1/stores", headers=api.admin).json()[0]["online"] == 1

    clock.advance(service.config.online_window_s + 1)
    assert api.get("/api/v1/devices", headers=api.admin).json()[0]["online"] is False


def test_heartbeat_rejects_bad_images_and_urls(api, service, store):
    device = enroll_device(service, store["id"])
    for body in ({"wechat_qr": base64.b64encode(b"GIF89a....").decode()},
                 {"wechat_qr": "not base64!"},
                 {"web_chat_url": "javascript:alert(1)"},
                 {"web_chat_url": "https://x/\"><script>"},
                 {"open_chats": -1}):
        r = api.post("/api/v1/heartbeat", json=body, headers=device["auth"])
        assert r.status_code in (400, 422), body


def test_landing_page_shows_the_device_contact_image_and_binding_code(api, service, store):
    device = enroll_device(service, store["id"], wechat_name="小美",
                           wechat_qr=base64.b64encode(png_bytes()).decode())
    token = service.mint(store["id"], "门口海报", None, "admin")["token"]
    r = api.get(f"/q/{token}")
    assert r.status_code == 200
    assert "小美" in r.text and "一号店" in r.text
    assert "script" not in r.text.lower()
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    img = r.text.split('src="')[1].split('"')[0]
    got = api.get(img)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.content == png_bytes()
    code = r.text.split("店码 ")[1][:6]
    found = api.get(f"/api/v1/bindings/{code}", headers=device["auth"]).json()
    assert (found["channel"], found["device_id"]) == ("门口海报", device["device_id"])
    # Another store's device cannot read this store's bindings.
    other = service.add_store("二号店")
    stranger = enroll_device(service, other["id"])
    assert api.get(f"/api/v1/bindings/{code}", headers=stranger["auth"]).status_code == 404


def test_store_name_is_escaped(api, service):
    s = service.add_store("<b>坏</b>店")
    enroll_device(service, s["id"], wechat_name="<img src=x>")
    token = service.mint(s["id"], "x", None, "admin")["token"]
    text = api.get(f"/q/{token}").text
    assert "<b>坏" not in text and "<img src=x>" not in text and "&lt;b&gt;" in text


def test_web_chat_url_redirects_with_the_binding_code(api, service, store):
    enroll_device(service, store["id"], web_chat_url="https://shop.example/chat?x=1")
    token = service.mint(store["id"], "x", None, "admin")["token"]
    r = api.get(f"/q/{token}", follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"].startswith("https://shop.example/chat?x=1&bind=")


def test_routing_prefers_least_loaded_then_round_robin(api, service, store):
    busy = enroll_device(service, store["id"], open_chats=5)
    a = enroll_device(service, store["id"], open_chats=1)
    b = enroll_device(service, store["id"], open_chats=1)
    token = service.mint(store["id"], "x", None, "admin")["token"]
    routed = [service.scan(token).device_id for _ in range(4)]
    assert busy["device_id"] not in routed
    assert routed[0] != routed[1] and routed[0] == routed[2] and routed[1] == routed[3]
    assert set(routed) == {a["device_id"], b["device_id"]}


def test_daily_cap_then_fallback_page_and_next_day_reset(api, service, store, clock):
    enroll_device(service, store["id"])  # store cap is 3
    token = service.mint(store["id"], "x", None, "admin")["token"]
    kinds = [service.scan(token).kind for _ in range(4)]
    assert kinds == ["device", "device", "device", "fallback"]
    r = api.get(f"/q/{token}")
    assert r.status_code == 200 and "010-1234" in r.text and "忙" in r.text
    stats = {(s["outcome"]): s["scans"] for s in service.scan_stats(store["id"])}
    assert stats == {"device": 3, "fallback": 2}
    clock.advance(86400)
    service.heartbeat(service.list_devices()[0]["id"], {"channel_ok": True})
    assert service.scan(token).kind == "device"


def test_reported_friends_count_against_the_cap(service, store):
    enroll_device(service, store["id"], friends_today=3)
    token = service.mint(store["id"], "x", None, "admin")["token"]
    assert service.scan(token).kind == "fallback"


def test_offline_device_is_not_chosen(service, store, clock):
    enroll_device(service, store["id"])
    token = service.mint(store["id"], "x", None, "admin")["token"]
    clock.advance(service.config.online_window_s + 1)
    assert service.scan(token).kind == "fallback"


def test_mint_through_the_api(api, service, store):
    r = api.post("/api/v1/qr", json={"store_id": store["id"], "channel": "外卖卡",
                                     "expires_in_days": 30}, headers=api.admin)
    assert r.status_code == 201
    body = r.json()
    assert body["url"].endswith(body["path"]) and body["expires_at"] > 0
    assert api.post("/api/v1/qr", json={"channel": "x"}, headers=api.admin).status_code == 400
    assert api.post("/api/v1/qr", json={"store_id": 999}, headers=api.admin).status_code == 404


def test_rate_limits_answer_429_with_retry_after(new_db):
    from fastapi.testclient import TestClient

    from sync_server.api import create_app

    svc = SyncService(new_db("r"), ServerConfig(scan_ip_per_min=10, scan_token_per_min=1000,
                                                       enroll_ip_per_min=4))
    svc.init_admin()
    client = TestClient(create_app(svc))
    codes = [client.get("/q/k1.x.y").status_code for _ in range(8)]
    assert codes[:5] == [404] * 5 and codes[-1] == 429
    r = client.get("/q/k1.x.y")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    enroll = [client.post("/api/v1/enroll", json={"code": "AAAA-AAAA"}).status_code for _ in range(4)]
    assert enroll[:2] == [403, 403] and enroll[-1] == 429


def test_per_token_limit(new_db):
    from fastapi.testclient import TestClient

    from sync_server.api import create_app

    svc = SyncService(new_db("r"), ServerConfig(scan_ip_per_min=1e6, scan_token_per_min=6))
    svc.init_admin()
    client = TestClient(create_app(svc))
    same = [client.get("/q/k1.same.token").status_code for _ in range(5)]
    assert same[-1] == 429
    assert client.get("/q/k1.other.token").status_code == 404


def test_request_size_limit(api, service, store):
    device = enroll_device(service, store["id"])
    big = {"wechat_name": "x", "channel_detail": "y" * 300_000}
    r = api.post("/api/v1/heartbeat", json=big, headers=device["auth"])
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(40):
            yield b"x" * 10_000

    r = api.post("/api/v1/heartbeat", content=chunks(), headers={
        **device["auth"], "content-type": "application/json"})
    assert r.status_code == 413


def test_openapi_docs_are_off_unless_configured(api, tmp_path):
    from fastapi.testclient import TestClient

    from sync_server.api import create_app

    for path in ("/docs", "/redoc", "/openapi.json"):
        assert api.get(path).status_code == 404
    svc = SyncService(tmp_path / "d.db", ServerConfig(docs=True))
    svc.init_admin()
    client = TestClient(create_app(svc))
    page = client.get("/docs")
    assert page.status_code == 200 and "/api/v1/enroll" in page.text
    assert "<script" not in page.text and "http" not in page.text.replace('href="/openapi', "")
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/enroll", "/api/v1/heartbeat", "/api/v1/qr", "/health"} <= set(paths)


def test_health(api):
    assert api.get("/health").json()["ok"] is True



def test_opening_the_database_again_in_one_process_keeps_the_first_connection_current(
        tmp_path, live_server):
    """A second service on the same file (the CLI, a test) must not drop the first one's SQLite
    locks (closing any descriptor of the file does): the first would then go on reading a
    stale snapshot while a server process writes."""
    import httpx

    db = tmp_path / "sync.db"
    first = SyncService(db)
    first.init_admin()
    store = first.add_store("一号店")
    code, _ = first.create_enrollment_code(store["id"])
    device = first.enroll(code, "pc")
    assert first.list_devices()[0]["last_seen"] is None
    SyncService(db).close()
    server = live_server(db)
    r = httpx.post(server.url + "/api/v1/heartbeat", json={"channel_ok": True}, timeout=10,
                   headers={"Authorization": f"Bearer {device['device_id']}."
                                             f"{device['device_secret']}"})
    assert r.status_code == 200
    assert first.list_devices()[0]["online"]
    first.close()
