"""The web channel over real HTTP on 127.0.0.1, with the real engine behind it."""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from alpha01.channels.web import WebChannel, chat_url
from alpha01.config import Settings
from alpha01.errors import ConfigError

from .conftest import web_rig


@contextlib.contextmanager
def _open(rig, **kw):
    """A browser session: the page was opened, so the session cookie is set."""
    with rig.client(**kw) as c:
        assert c.get("/").status_code == 200
        yield c


def _wait_items(c, n: int, role: str = "shop", timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = c.get("/api/history").json()["items"]
        if sum(1 for i in items if i["role"] == role) >= n:
            return items
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} {role} items: {items}")


def test_demo_question_is_answered_over_the_stream_and_kept_for_a_reload(make_web):
    rig = make_web()
    with _open(rig) as c:
        start = c.get("/api/history").json()
        assert start["shop"] == "果然鲜水果铺" and start["items"] == []
        r = c.post("/api/messages", json={"id": "q1-aaaaaaaa", "text": "你们几点开门？"})
        assert r.status_code == 200 and r.json()["new"] is True
        got = []
        with c.stream("GET", "/api/events", params={"after": start["position"]}) as s:
            for line in s.iter_lines():
                if line.startswith("data:"):
                    got.append(json.loads(line[5:]))
                    if got[-1]["role"] == "shop":
                        break
        assert [g["role"] for g in got] == ["customer", "shop"]
        assert "8:30" in got[-1]["text"]
        again = c.get("/api/history").json()["items"]  # what a reload shows
        assert [(i["role"], i["text"]) for i in again] == [(g["role"], g["text"]) for g in got]
    msg = rig.rows("SELECT channel, sender, dedupe_key, state FROM messages WHERE direction = 'in'")
    assert len(msg) == 1 and msg[0]["channel"] == "web" and msg[0]["state"] == "answered"
    assert msg[0]["sender"].startswith("网页访客")


def test_a_retried_post_is_one_message_and_one_reply(make_web):
    rig = make_web()
    with _open(rig) as c:
        for _ in range(3):
            r = c.post("/api/messages", json={"id": "retry-1234", "text": "芒果多少钱一斤"})
            assert r.status_code == 200
        items = _wait_items(c, 1)
        time.sleep(0.5)
        items = c.get("/api/history").json()["items"]
    assert [i["role"] for i in items] == ["customer", "shop"]
    assert len(rig.rows("SELECT id FROM messages WHERE direction = 'in'")) == 1
    assert len(rig.rows("SELECT id FROM replies")) == 1


def test_sessions_are_separate_customers(make_web):
    rig = make_web()
    with _open(rig) as a, _open(rig) as b:
        a.post("/api/messages", json={"id": "aaaa-00001", "text": "在吗"})
        _wait_items(a, 1)
        assert b.get("/api/history").json()["items"] == []
    assert len(rig.rows("SELECT id FROM customers WHERE channel = 'web'")) == 1


def test_customer_text_is_data_and_the_page_is_locked_down(make_web):
    rig = make_web()
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    with _open(rig) as c:
        page = c.get("/")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "<script src=\"/static/chat.js\"" in page.text and "onerror" not in page.text
        r = c.post("/api/messages", json={"id": "xss-000001", "text": payload})
        assert r.headers["content-type"].startswith("application/json")
        items = _wait_items(c, 1)
        assert items[0]["text"] == payload
        js = c.get("/static/chat.js").text
        assert "innerHTML" not in js.replace("never as HTML", "") and "textContent" in js
        for path in ("/docs", "/openapi.json", "/admin", "/api/customers", "/static/../x"):
            assert c.get(path).status_code in (404, 405), path


def test_bad_requests_are_refused(make_web):
    rig = make_web(web={"max_message_chars": 50, "max_body_bytes": 1024})
    with rig.client() as anon:
        assert anon.get("/api/history").status_code == 401
        assert anon.post("/api/messages", json={"id": "x" * 10, "text": "hi"}).status_code == 401
        anon.cookies.set("a01chat", "forged.cookie.value")
        assert anon.get("/api/history").status_code == 401
    with _open(rig) as c:
        post = c.post
        assert post("/api/messages", json={"id": "short", "text": "hi"}).status_code == 400
        assert post("/api/messages", json={"id": "ok-id-0001", "text": "  "}).status_code == 400
        assert post("/api/messages", json={"id": "ok-id-0002", "text": "长" * 51}).status_code == 413
        big = json.dumps({"id": "ok-id-0003", "text": "a" * 2000})
        assert post("/api/messages", content=big,
                    headers={"content-type": "application/json"}).status_code == 413
        assert post("/api/messages", content="id=1",
                    headers={"content-type": "application/x-www-form-urlencoded"}
                    ).status_code == 415
        assert post("/api/messages", json={"id": "ok-id-0004", "text": "hi"},
                    headers={"origin": "https://evil.example"}).status_code == 403
        assert post("/api/messages", content="[1]",
                    headers={"content-type": "application/json"}).status_code == 400
    assert rig.rows("SELECT id FROM messages") == []


def test_rate_limits_per_session_and_per_address(make_web):
    rig = make_web(web={"session_per_min": 6, "address_per_min": 10,
                        "new_sessions_per_min": 4})
    with _open(rig) as c:
        codes = [c.post("/api/messages", json={"id": f"rate-{i:05d}", "text": f"问题{i}"}
                        ).status_code for i in range(6)]
        assert codes[:3] == [200, 200, 200] and codes[-1] == 429
        r = c.post("/api/messages", json={"id": "rate-99999", "text": "再问"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    opened = [rig.client().get("/").status_code for _ in range(5)]
    assert opened.count(429) >= 1  # new sessions from one address are limited too


def test_merchant_takeover_and_manual_reply_reach_the_page(make_web):
    rig = make_web()
    with _open(rig) as c:
        c.post("/api/messages", json={"id": "take-00001", "text": "在吗"})
        _wait_items(c, 1)
        cid = rig.rows("SELECT id FROM customers WHERE channel = 'web'")[0]["id"]
        rig.engine.submit(rig.engine.pause, cid).result(5)
        c.post("/api/messages", json={"id": "take-00002", "text": "你们几点开门？"})
        time.sleep(0.8)
        assert sum(i["role"] == "shop" for i in c.get("/api/history").json()["items"]) == 1
        rig.engine.submit(rig.engine.manual_reply, cid, "我是店主，马上到。").result(5)
        items = _wait_items(c, 2)
    assert items[-1]["text"] == "我是店主，马上到。"
    state = rig.rows("SELECT state, reason FROM messages WHERE dedupe_key LIKE '%take-00002'")
    assert state == [{"state": "ignored", "reason": "AI paused for this customer"}]


def test_history_survives_a_restart_of_the_app(tmp_path):
    rig = web_rig(tmp_path / "home")
    try:
        with _open(rig) as c:
            c.post("/api/messages", json={"id": "keep-00001", "text": "你们几点开门？"})
            _wait_items(c, 1)
            cookie = c.cookies.get("a01chat")
    finally:
        rig.shutdown()
    rig = web_rig(tmp_path / "home")
    try:
        with rig.client() as c:
            c.cookies.set("a01chat", cookie)
            items = c.get("/api/history").json()["items"]
            # A browser that never saw its answer sends the message again: recognised, once.
            r = c.post("/api/messages", json={"id": "keep-00001", "text": "你们几点开门？"})
            assert r.status_code == 200 and r.json()["new"] is False
            time.sleep(0.5)
            again = c.get("/api/history").json()["items"]
        assert [i["role"] for i in items] == ["customer", "shop"]
        assert items[0]["text"] == "你们几点开门？" and items[0]["id"] == "c:keep-00001"
        assert again == items
        assert len(rig.rows("SELECT id FROM messages WHERE direction = 'in'")) == 1
    finally:
        rig.shutdown()


def test_exposure_beyond_loopback_needs_the_token_from_the_qr_link(make_web):
    with pytest.raises(ConfigError, match="access_token"):
        WebChannel(Settings().with_overrides(web={"host": "0.0.0.0"}))
    token = "t0k3n-abcdefghijklmnop"
    s = Settings().with_overrides(web={"host": "0.0.0.0", "access_token": token,
                                       "public_url": "https://chat.example.com/s/1"})
    assert chat_url(s.web) == f"https://chat.example.com/s/1/?t={token}"
    # Served on loopback here, but with a token: the page needs it, then the cookie suffices.
    rig = make_web(web={"access_token": token})
    with rig.client() as c:
        assert c.get("/").status_code == 403
        assert c.get("/", params={"t": "wrong"}).status_code == 403
        assert c.get("/api/history").status_code == 401
        assert c.get("/", params={"t": token, "bind": "ABC234"}).status_code == 200
        assert c.get("/").status_code == 200 and c.get("/api/history").status_code == 200
        c.post("/api/messages", json={"id": "bind-00001", "text": "在吗"})
    assert rig.channel.chat_url.endswith(f"?t={token}")


def test_the_heartbeat_advertises_the_chat_url(make_web):
    from alpha01.app import device_status

    rig = make_web()
    status = device_status(rig.app, rig.engine)
    assert status.web_chat_url == f"{rig.url}/"
    assert status.channel_ok


def test_qr_web_prints_the_local_chat_address(tmp_path):
    from click.testing import CliRunner

    from alpha01.cli import cli

    home = tmp_path / "qrhome"
    home.mkdir()
    (home / "settings.toml").write_text(
        '[web]\nhost = "192.168.1.20"\nport = 9000\naccess_token = "abcdefghijklmnopqrst"\n',
        encoding="utf-8")
    png = tmp_path / "web.png"
    r = CliRunner().invoke(cli, ["--home", str(home), "qr", "--web", "--png", str(png)])
    assert r.exit_code == 0, r.output
    assert "http://192.168.1.20:9000/?t=abcdefghijklmnopqrst" in r.output
    assert png.read_bytes()[:4] == b"\x89PNG"
