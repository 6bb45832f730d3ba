"""The alpha01 side: binding codes, the heartbeat loop's backoff, deadlines, no server imports."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest

from alpha01.sync import (
    DeviceStatus,
    HeartbeatLoop,
    ServerAlerts,
    SyncClient,
    SyncError,
    parse_binding_code,
)
from alpha01.sync.client import ALERTS_TIMEOUT_S, DEFAULT_TIMEOUT


@pytest.mark.parametrize("text, code", [
    ("店码 ABC234", "ABC234"),
    ("你好，我是通过海报来的 店码:abc234 想问问", "ABC234"),
    ("绑定码：XY7K9P", "XY7K9P"),
    ("店码ABC2345", None),  # seven characters is not a code
    ("店码 ABCO12", None),  # O, 1 are never in a code
    ("我想买 ABC234", None),  # no marker, no guess
    ("", None),
])
def test_parse_binding_code(text, code):
    assert parse_binding_code(text) == code


def test_every_request_has_a_deadline():
    client = SyncClient("http://127.0.0.1:9")
    assert client._http.timeout == DEFAULT_TIMEOUT
    assert DEFAULT_TIMEOUT.read and DEFAULT_TIMEOUT.connect and DEFAULT_TIMEOUT.pool
    client.close()


def test_errors_become_sync_errors():
    def refuse(request):
        return httpx.Response(403, json={"detail": "enrollment code unknown, used or expired"})

    client = SyncClient("https://sync.test", transport=httpx.MockTransport(refuse))
    with pytest.raises(SyncError, match="403") as info:
        client.enroll("AAAA-AAAA")
    assert info.value.status == 403
    with pytest.raises(SyncError, match="not enrolled"):
        client.heartbeat(DeviceStatus())

    def down(request):
        raise httpx.ConnectError("refused")

    client = SyncClient("https://sync.test", "dev_x", "dsk_y", transport=httpx.MockTransport(down))
    with pytest.raises(SyncError, match="cannot reach"):
        client.heartbeat(DeviceStatus())
    with pytest.raises(SyncError):
        SyncClient("ftp://sync.test")


def test_heartbeat_backs_off_while_offline_and_recovers():
    online = threading.Event()
    seen: list[dict] = []

    def handler(request):
        if not online.is_set():
            raise httpx.ConnectError("offline")
        seen.append(__import__("json").loads(request.content))
        return httpx.Response(200, json={"ok": True})

    client = SyncClient("https://sync.test", "dev_x", "dsk_y", transport=httpx.MockTransport(handler))
    loop = HeartbeatLoop(client, lambda: DeviceStatus(wechat_qr=b"\x89PNG img"),
                         interval_s=1.0, max_backoff_s=8.0)
    assert loop.next_delay() == 1.0
    delays = []
    for _ in range(5):
        assert loop.beat_once() is False
        delays.append(loop.next_delay())
    for got, expected in zip(delays, [2.0, 4.0, 8.0, 8.0, 8.0], strict=True):
        assert 0.8 * expected <= got <= expected  # doubling, capped, with jitter
    online.set()
    assert loop.beat_once() is True and loop.next_delay() == 1.0
    assert "wechat_qr" in seen[0]
    assert loop.beat_once() is True
    assert "wechat_qr" not in seen[1]  # unchanged image is not sent again


def test_heartbeat_loop_never_blocks_its_caller():
    release = threading.Event()

    def slow(request):
        release.wait(5)
        return httpx.Response(200, json={"ok": True})

    client = SyncClient("https://sync.test", "dev_x", "dsk_y", transport=httpx.MockTransport(slow))
    loop = HeartbeatLoop(client, DeviceStatus, interval_s=0.05)
    started = time.perf_counter()
    loop.start()
    assert time.perf_counter() - started < 0.1 and loop.running
    release.set()
    loop.stop(timeout=5)
    assert not loop.running and loop.sent >= 1


def test_a_failing_status_source_does_not_kill_the_loop():
    client = SyncClient("https://sync.test", "dev_x", "dsk_y",
                        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})))
    loop = HeartbeatLoop(client, lambda: 1 / 0, interval_s=1)
    assert loop.beat_once() is False and "division" in loop.last_error


def test_the_client_does_not_import_the_server_stack():
    code = ("import sys, alpha01.sync, alpha01.cli_sync; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'uvicorn', 'starlette', 'sync_server')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30,
                   cwd=__import__("tests.sync_server.sync_helpers", fromlist=["ROOT"]).ROOT)


@pytest.mark.parametrize("url", ["http://sync.example.com", "http://192.168.1.5:8000",
                                 "http://[2001:db8::1]/", "http://127.0.0.1.example.com",
                                 "ftp://sync.example.com", "sync.example.com", "https://"])
def test_the_device_secret_never_travels_over_plain_http_beyond_this_machine(url):
    with pytest.raises(SyncError, match="https"):
        SyncClient(url, "dev_x", "dsk_y")


@pytest.mark.parametrize("url", ["https://sync.example.com", "http://127.0.0.1:8000",
                                 "http://localhost:8000/", "http://[::1]:8000"])
def test_https_anywhere_and_plain_http_to_loopback_are_accepted(url):
    SyncClient(url).close()


def test_a_status_field_left_none_is_not_sent():
    sent = DeviceStatus(channel_ok=True, version="1").to_json(include_image=False)
    assert sent == {"channel_ok": True, "channel_detail": "", "version": "1"}
    full = DeviceStatus(open_chats=0, friends_today=0, web_chat_url="", wechat_name="")
    assert {"open_chats", "friends_today", "web_chat_url", "wechat_name"} <= set(
        full.to_json(include_image=False))


def test_alerts_are_fetched_after_a_beat_at_their_own_pace_with_a_deadline():
    seen: list[httpx.Request] = []

    def answer(request):
        seen.append(request)
        if request.url.path == "/api/v1/me/alerts":
            return httpx.Response(200, json=[{"kind": "device_offline", "title": "设备离线"}])
        return httpx.Response(200, json={"ok": True})

    now = [1000.0]
    client = SyncClient("https://sync.test", "dev_x", "dsk_y",
                        transport=httpx.MockTransport(answer))
    held = ServerAlerts()
    loop = HeartbeatLoop(client, lambda: DeviceStatus(channel_ok=True), interval_s=1,
                         alerts=held, alerts_every_s=60, clock=lambda: now[0])
    assert loop.beat_once()
    fetches = [r for r in seen if r.url.path == "/api/v1/me/alerts"]
    assert len(fetches) == 1 and fetches[0].url.params["limit"] == "20"
    assert fetches[0].extensions["timeout"]["read"] == ALERTS_TIMEOUT_S
    assert [a["title"] for a in held.current()] == ["设备离线"] and held.version == 1
    now[0] += 30
    loop.beat_once()  # not due yet
    assert len([r for r in seen if r.url.path == "/api/v1/me/alerts"]) == 1
    now[0] += 31
    loop.beat_once()  # due; the same alerts: the version stays
    assert len([r for r in seen if r.url.path == "/api/v1/me/alerts"]) == 2
    assert held.version == 1 and held.fetched_at == now[0]


def test_a_server_without_the_alerts_endpoint_is_asked_again_only_hourly():
    def answer(request):
        if request.url.path == "/api/v1/me/alerts":
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json={"ok": True})

    now = [1000.0]
    asked = []
    client = SyncClient("https://sync.test", "dev_x", "dsk_y",
                        transport=httpx.MockTransport(lambda r: asked.append(r.url.path)
                                                      or answer(r)))
    held = ServerAlerts()
    loop = HeartbeatLoop(client, lambda: DeviceStatus(), interval_s=1, alerts=held,
                         alerts_every_s=60, clock=lambda: now[0])
    assert loop.beat_once()  # the heartbeat itself is fine
    assert "404" in held.error and held.current() == []
    now[0] += 600
    loop.beat_once()
    assert asked.count("/api/v1/me/alerts") == 1
    now[0] += 3600
    loop.beat_once()
    assert asked.count("/api/v1/me/alerts") == 2


def test_per_channel_health_is_sent_beside_the_one_flag():
    sent = DeviceStatus(channel_ok=False, channels={"wechat": {"ok": False, "detail": "x"},
                                                    "web": {"ok": True, "detail": ""}})
    body = sent.to_json(include_image=False)
    assert body["channel_ok"] is False and body["channels"]["web"] == {"ok": True, "detail": ""}
