"""A hostile client against the web chat, over real HTTP on loopback: bodies that used to
raise 500s, a flood of reply streams, headers on every response, weak access tokens."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from alpha01.channels.web.channel import check_exposure, weak_token
from alpha01.config import Settings
from alpha01.errors import ConfigError

FLOOD = 1000


def _session(rig) -> str:
    with rig.client() as c:
        assert c.get("/").status_code == 200
        return c.cookies.get("a01chat")


@pytest.mark.parametrize("body", [
    '{"id": "deep-00001", "text": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "[" * 3000 + "]" * 3000,
    '{"id": "nan-000001", "text": "hi", "n": NaN}',
    '{"id": "inf-000001", "text": "hi", "n": 1e999}',
    '{"id": "big-000001", "text": "hi", "n": ' + "9" * 4000 + "}",
])
def test_hostile_bodies_are_4xx_never_500(make_web, body):
    rig = make_web(web={"max_body_bytes": 200_000})
    with rig.client() as c:
        c.get("/")
        r = c.post("/api/messages", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, r.status_code
        assert "消息格式不对" in r.json()["error"]
    assert rig.rows("SELECT id FROM messages") == []


def _open_stream(port: int, cookie: str) -> tuple[socket.socket, int]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall((f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Cookie: a01chat={cookie}\r\n\r\n").encode())
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(256)
        if not chunk:
            break
        head += chunk
    return sock, int(head.split(b" ", 2)[1]) if head else 0


def test_a_thousand_hostile_streams_do_not_keep_a_new_customer_from_a_reply(make_web):
    rig = make_web()
    hostile = _session(rig)
    held = []
    try:
        statuses = []
        for _ in range(FLOOD):
            sock, status = _open_stream(rig.channel.port, hostile)
            held.append(sock)
            statuses.append(status)
        deadline = time.monotonic() + 10
        while rig.channel.hub.streams > 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rig.channel.hub.streams <= 3  # the session holds its newest three, no more
        # A new customer (another address on the loopback network) is served and answered.
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=rig.url, timeout=10, transport=transport) as c:
            assert c.get("/").status_code == 200
            start = c.get("/api/history").json()["position"]
            r = c.post("/api/messages", json={"id": "real-00001", "text": "你们几点开门？"})
            assert r.status_code == 200
            got = []
            with c.stream("GET", "/api/events", params={"after": start}) as s:
                assert s.status_code == 200
                for line in s.iter_lines():
                    if line.startswith("data:"):
                        got.append(json.loads(line[5:]))
                        if got[-1]["role"] == "shop":
                            break
        assert got[-1]["role"] == "shop" and "8:30" in got[-1]["text"]
    finally:
        for sock in held:
            sock.close()


def test_streams_per_address_are_capped(make_web):
    rig = make_web(web={"streams_per_address": 4, "new_sessions_per_min": 100})
    held, statuses = [], []
    try:
        for _ in range(6):  # six sessions from one address, one stream each
            sock, status = _open_stream(rig.channel.port, _session(rig))
            held.append(sock)
            statuses.append(status)
        assert statuses == [200] * 4 + [429] * 2
    finally:
        for sock in held:
            sock.close()


def test_security_headers_on_404_405_and_errors(make_web):
    rig = make_web()
    with rig.client() as c:
        for r in (c.get("/nope"), c.get("/static/nope.js"), c.post("/"),
                  c.get("/api/history"), c.get("/")):
            for h in ("content-security-policy", "x-content-type-options",
                      "x-frame-options", "referrer-policy"):
                assert h in r.headers, (r.request.url, r.status_code, h)


@pytest.mark.parametrize("token", ["a" * 40, "abababababababababab", "short1", "0123012301230123"])
def test_weak_access_tokens_are_refused(token):
    assert weak_token(token)
    with pytest.raises(ConfigError, match="access_token"):
        check_exposure(Settings().with_overrides(web={"access_token": token}).web)


def test_a_random_access_token_is_accepted():
    import secrets

    token = secrets.token_urlsafe(18)
    assert not weak_token(token)
    check_exposure(Settings().with_overrides(web={"host": "0.0.0.0", "access_token": token}).web)



def _new_sessions(rig, forwarded: list[str]) -> list[int]:
    """GET / without a cookie once per X-Forwarded-For value: each opens a new session."""
    codes = []
    for hop in forwarded:
        with rig.client() as c:
            codes.append(c.get("/", headers={"x-forwarded-for": hop}).status_code)
    return codes


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_configured_proxy(make_web):
    # Default: no proxy is trusted, so one loopback client is one address whatever it claims
    # (burst of 3 new sessions, then 429).
    rig = make_web(web={"new_sessions_per_min": 4})
    assert _new_sessions(rig, [f"203.0.113.{i}" for i in range(6)]) == [200] * 3 + [429] * 3

    # Behind a trusted proxy (this test's loopback peer), each forwarded address has its own
    # limit, and a client's own forged hop before the proxy's is not believed over it.
    proxied = make_web("proxied", web={"new_sessions_per_min": 4,
                                       "trusted_proxies": ["127.0.0.1"]})
    assert _new_sessions(proxied, [f"203.0.113.{i}" for i in range(6)]) == [200] * 6
    same = [f"198.51.100.{i}, 192.0.2.7" for i in range(5)]  # the proxy saw 192.0.2.7
    assert _new_sessions(proxied, same) == [200] * 3 + [429] * 2


def test_trusted_proxies_must_be_ip_addresses():
    assert Settings().web.trusted_proxies == []
    ok = Settings().with_overrides(web={"trusted_proxies": ["127.0.0.1", "::1"]})
    assert ok.web.trusted_proxies == ["127.0.0.1", "::1"]
    with pytest.raises(ConfigError, match="trusted_proxies"):
        Settings().with_overrides(web={"trusted_proxies": ["nginx.local"]})
    with pytest.raises(ConfigError, match="trusted_proxies"):
        Settings().with_overrides(web={"trusted_proxies": "127.0.0.1"})
