"""A hostile client: bodies that used to raise 500s, replayed QR tokens, forged
X-Forwarded-For, and the headers every response must carry."""

from __future__ import annotations

import pytest

from sync_server.service import ServerConfig, SyncService

from .sync_helpers import enroll_device


def _app(target, **config):
    from fastapi.testclient import TestClient

    from sync_server.api import create_app

    svc = SyncService(target, ServerConfig(**config))
    svc.admin_token = svc.init_admin()
    client = TestClient(create_app(svc), raise_server_exceptions=False)
    client.admin = {"Authorization": f"Bearer {svc.admin_token}"}
    return svc, client


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_numbers_are_400_not_500(api, number):
    body = f'{{"code": "AAAA-AAAA", "name": {number}}}'
    r = api.post("/api/v1/enroll", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "finite" in r.json()["detail"]


def test_body_is_refused_before_the_enroll_rate_limit_is_spent(new_db):
    _, client = _app(new_db(), enroll_ip_per_min=4)
    for _ in range(50):
        r = client.post("/api/v1/enroll", content='{"code": NaN}',
                        headers={"content-type": "application/json"})
        assert r.status_code == 400
    # The 50 refused bodies did no work and spent none of the address's enrollments.
    assert client.post("/api/v1/enroll", json={"code": "AAAA-AAAA"}).status_code == 403


def test_deep_nesting_and_malformed_json_are_400(api):
    for body in ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
                 "{not json", "\xff\xfe"]:
        r = api.post("/api/v1/enroll", content=body.encode("utf-8", "surrogateescape"),
                     headers={"content-type": "application/json"})
        assert r.status_code == 400, (body[:20], r.status_code)


def test_integers_beyond_64_bits_are_refused_not_overflowed(api, service):
    big = str(2**64)
    huge = "9" * 5000
    r = api.post("/api/v1/qr", content=f'{{"store_id": {big}}}', headers={
        **api.admin, "content-type": "application/json"})
    assert r.status_code == 400 and "64-bit" in r.json()["detail"]
    r = api.post("/api/v1/qr", content=f'{{"store_id": {huge}}}', headers={
        **api.admin, "content-type": "application/json"})
    assert r.status_code == 400
    r = api.post("/api/v1/qr", json={"store_id": big}, headers=api.admin)  # as a string
    assert r.status_code == 422
    r = api.post(f"/api/v1/stores/{big}/enrollment-codes", json={}, headers=api.admin)
    assert r.status_code == 422
    r = api.get(f"/api/v1/devices?store_id={big}", headers=api.admin)
    assert r.status_code == 422


def test_a_thousand_replays_of_one_token_consume_at_most_one_slot(new_db, live_server):
    import httpx

    db = new_db("replay")
    svc = SyncService(db)
    svc.init_admin()
    store = svc.add_store("一号店", "电话 010-1234", daily_cap=100)
    enroll_device(svc, store["id"])
    token = svc.mint(store["id"], "x", None, "admin")["token"]
    server = live_server(db, "--scan-ip-per-min", "1e9", "--scan-token-per-min", "1e9",
                         "--trusted-proxy", "127.0.0.1")

    def routed() -> int:
        return svc.list_devices(store["id"])[0]["routed_today"]

    answers = set()
    # Real HTTP on loopback: a browser keeping the scanner cookie, then curl in a loop.
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        for _ in range(500):
            r = browser.get(f"/q/{token}")
            assert r.status_code == 200
            answers.add(r.text)
    with httpx.Client(base_url=server.url, timeout=10) as bare:
        for _ in range(500):
            bare.cookies.clear()
            answers.add(bare.get(f"/q/{token}").text)
    assert routed() <= 1
    assert len(answers) == 1  # the same page, the same binding code
    # Another scanner (another address behind the proxy) still gets a slot of its own.
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"x-forwarded-for": "198.51.100.7"}) as other:
        assert "店码" in other.get(f"/q/{token}").text
    assert routed() == 2


def test_x_forwarded_for_is_believed_only_from_configured_proxies(new_db):
    from fastapi.testclient import TestClient

    _, plain = _app(new_db(), scan_ip_per_min=4)
    forged = [plain.get("/q/k1.x.y", headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
              for i in range(8)]
    assert forged[-1] == 429  # one peer, whatever it claims

    svc, _ = _app(new_db("p"), scan_ip_per_min=4, trusted_proxies=["10.0.0.1"])
    from sync_server.api import create_app

    proxied = TestClient(create_app(svc), client=("10.0.0.1", 4000))
    codes = [proxied.get("/q/k1.x.y", headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
             for i in range(8)]
    assert codes == [404] * 8  # eight real clients behind the proxy


SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy",
            "x-frame-options")


def test_security_headers_on_every_response(new_db, api, service):
    device = enroll_device(service, service.add_store("店", "", daily_cap=5)["id"])
    responses = [api.get("/health"), api.get("/api/v1/stores", headers=api.admin),
                 api.get("/api/v1/me", headers=device["auth"]), api.get("/nope"),
                 api.get("/q/bad"), api.get("/api/v1/stores"), api.get("/docs"),
                 api.post("/api/v1/enroll", content="NaN",
                          headers={"content-type": "application/json"})]
    _, with_docs = _app(new_db("d"), docs=True)
    responses += [with_docs.get("/docs"), with_docs.get("/openapi.json")]
    # What `serve` runs: the front door answers /q itself, the same headers included.
    from fastapi.testclient import TestClient

    from sync_server.api import create_asgi

    token = service.mint(device["store_id"], "x", None, "admin")["token"]
    front = TestClient(create_asgi(service))
    web = service.mint(device["store_id"], "y", None, "admin", target="web")["token"]
    scans = [front.get("/q/bad"), front.get(f"/q/{token}"), front.get(f"/q/{token}"),
             front.get(f"/q/{web}", follow_redirects=False)]
    assert [r.status_code for r in scans] == [404, 200, 200, 200]  # no web chat: fallback
    responses += scans
    for r in responses:
        missing = [h for h in SECURITY if h not in r.headers]
        assert not missing, (r.request.url, r.status_code, missing)
    for r in scans:
        assert r.headers["content-length"] == str(len(r.content))
        assert len(r.headers.get_list("content-security-policy")) == 1


def test_nul_characters_are_refused_with_a_reason_not_a_500(api, service):
    # PostgreSQL cannot store U+0000 in text; both backends refuse it the same way.
    r = api.post("/api/v1/stores", json={"name": "一号店\x00"}, headers=api.admin)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]
    assert service.list_stores() == []
    device = enroll_device(service, service.add_store("店", "", daily_cap=5)["id"])
    for r in (api.post("/api/v1/qr/ab%00cd/revoke", headers=api.admin),
              api.get("/api/v1/bindings/AB%00CD", headers=device["auth"])):
        assert r.status_code in (400, 404), (r.request.url, r.status_code, r.text)


def test_the_scanner_cookie_comes_only_with_an_answer_that_claimed_a_slot(api, service):
    store = service.add_store("一号店", "电话 010-1234", daily_cap=1)
    enroll_device(service, store["id"])
    token = service.mint(store["id"], "x", None, "admin")["token"]
    first = api.get(f"/q/{token}")
    assert first.status_code == 200 and "a01scan=" in first.headers.get("set-cookie", "")
    cookie = first.cookies["a01scan"]
    api.cookies.clear()
    again = api.get(f"/q/{token}")  # the same address, no cookie: a replay, no new scanner
    assert again.text == first.text and "set-cookie" not in again.headers
    # The cookie names the scanner from anywhere: the same answer, no second cookie.
    from fastapi.testclient import TestClient

    from sync_server.api import create_app

    elsewhere = TestClient(create_app(service), client=("192.0.2.9", 4000))
    same = elsewhere.get(f"/q/{token}", cookies={"a01scan": cookie})
    assert same.text == first.text and "set-cookie" not in same.headers
    # The cap is used up: another scanner gets the fallback page, and no cookie with it.
    other = TestClient(create_app(service), client=("192.0.2.10", 4000))
    fallback = other.get(f"/q/{token}")
    assert "电话 010-1234" in fallback.text and "set-cookie" not in fallback.headers
    assert "set-cookie" not in other.get("/q/k1.bad.token").headers
    assert service.list_devices()[0]["routed_today"] == 1
