"""Talking to the sync server: every call has an explicit deadline, errors become SyncError.

`SyncClient` does one request per method. `HeartbeatLoop` posts the device's status from its
own daemon thread, backing off exponentially while the server is unreachable; the caller never
waits on the network. `parse_binding_code` finds the short code a customer copied from a store
QR landing page into a friend request or first message.
"""

from __future__ import annotations

import base64
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from ..errors import Alpha01Error

log = logging.getLogger("alpha01.sync")

# connect / read / write / pool, seconds. A heartbeat must never hang the loop.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Fetching the owner's alerts: a shorter deadline (the next poll tries again).
ALERTS_TIMEOUT_S = 5.0


class SyncError(Alpha01Error):
    """The sync server could not be reached, or refused the request (message says which)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Enrollment:
    device_id: str
    device_secret: str
    store_id: int
    store_name: str


@dataclass(frozen=True)
class MintedQR:
    token: str
    jti: str
    url: str
    channel: str
    expires_at: int | None
    target: str = "any"  # what its scans need: "wechat", "web" or "any"


@dataclass(frozen=True)
class Binding:
    code: str
    store_id: int
    store_name: str
    channel: str
    device_id: str | None
    at: float


@dataclass
class DeviceStatus:
    """What a heartbeat reports. `wechat_qr` is PNG/JPEG bytes, sent only when it changes.

    A field left None is not sent, and the server keeps what it had: a reporter that does not
    know the open chats or the web chat's URL never blanks them ("" does clear a URL)."""

    channel_ok: bool = False
    channel_detail: str = ""
    # Health per channel, {"wechat": {"ok": True, "detail": ""}, "web": {...}}: the server routes
    # a WeChat QR only to a device whose WeChat works and a web QR only to a working web chat.
    # None: not sent (the server then goes by `channel_ok` for every channel).
    channels: dict[str, dict[str, Any]] | None = None
    open_chats: int | None = None
    friends_today: int | None = None
    version: str = ""
    wechat_name: str | None = None
    web_chat_url: str | None = None
    wechat_qr: bytes | None = field(default=None, repr=False)

    def to_json(self, include_image: bool) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None or k == "wechat_qr"}
        image = data.pop("wechat_qr")
        if include_image and image is not None:
            data["wechat_qr"] = base64.b64encode(image).decode("ascii")
        return data


# "店码 ABC234", "店码:abc234", "绑定码：ABC234"; the alphabet has no 0/O/1/I/L.
_BINDING = re.compile(r"(?:店码|绑定码|邀请码)\s*[:：#]?\s*([2-9A-HJ-KM-NP-Za-hj-km-np-z]{6})(?![0-9A-Za-z])")


def parse_binding_code(text: str) -> str | None:
    """The binding code in a friend-request or first-message text, upper-cased, or None."""
    if not text:
        return None
    match = _BINDING.search(text)
    return match.group(1).upper() if match else None


_LOOPBACK_HOSTS = {"localhost"}


def _is_loopback_ip(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_server_url(server: str) -> None:
    """https:// anywhere; plain http:// only to this machine (the device's secret travels as a
    bearer token, and TLS is the job of the nginx in front of the server)."""
    try:
        url = httpx.URL(server)
    except (httpx.InvalidURL, TypeError) as exc:
        raise SyncError(f"同步服务器地址无效 / invalid sync server URL: {server!r}") from exc
    host = (url.host or "").lower()
    if url.scheme == "https" and host:
        return
    if url.scheme == "http" and (host in _LOOPBACK_HOSTS or _is_loopback_ip(host)):
        return
    if url.scheme == "http" and host:
        raise SyncError(f"同步服务器必须用 https://（明文 http 只允许本机）/ the sync server must "
                        f"use https:// (plain http only to loopback): {server!r}")
    raise SyncError(f"同步服务器地址必须是 https:// 网址 / the sync server must be an https:// "
                    f"URL, got {server!r}")


class SyncClient:
    """One device's view of the sync server.

    `transport` is for tests (e.g. `httpx.MockTransport`); normally the default is used.
    """

    def __init__(
        self,
        server: str,
        device_id: str = "",
        device_secret: str = "",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ):
        check_server_url(server)
        self.server = server.rstrip("/")
        self.device_id = device_id
        self.device_secret = device_secret
        self._http = httpx.Client(
            base_url=self.server,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "alpha01-sync"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _auth(self) -> dict[str, str]:
        if not (self.device_id and self.device_secret):
            raise SyncError("this PC is not enrolled: run `alpha01 sync enroll` first")
        return {"Authorization": f"Bearer {self.device_id}.{self.device_secret}"}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise SyncError(f"sync server {self.server} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise SyncError(f"cannot reach sync server {self.server}: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text[:200]
            if response.status_code == 429:
                detail = f"too many requests, retry after {response.headers.get('Retry-After', '?')} s"
            raise SyncError(f"sync server refused ({response.status_code}): {detail}",
                            status=response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise SyncError("sync server sent a malformed answer") from exc

    # -- the API -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def enroll(self, code: str, name: str = "", version: str = "") -> Enrollment:
        """Spend an enrollment code. The returned secret is shown by the server only this once."""
        data = self._request("POST", "/api/v1/enroll",
                             json={"code": code, "name": name[:100], "version": version[:40]})
        enrollment = Enrollment(data["device_id"], data["device_secret"],
                                int(data["store_id"]), data["store_name"])
        self.device_id, self.device_secret = enrollment.device_id, enrollment.device_secret
        return enrollment

    def heartbeat(self, status: DeviceStatus, include_image: bool = False) -> dict[str, Any]:
        return self._request("POST", "/api/v1/heartbeat", headers=self._auth(),
                             json=status.to_json(include_image))

    def post_alert(self, key: str, detail: str, channel: str = "", at: float | None = None
                   ) -> dict[str, Any]:
        """Put an alert on the owner's alert list; a retry with the same key lands once."""
        body: dict[str, Any] = {"key": key[:80], "detail": detail[:500] or "?",
                                "channel": channel[:40]}
        if at is not None:
            body["at"] = at
        return self._request("POST", "/api/v1/alerts", headers=self._auth(), json=body)

    def me(self) -> dict[str, Any]:
        return self._request("GET", "/api/v1/me", headers=self._auth())

    def alerts(self, limit: int = 20, timeout: float = ALERTS_TIMEOUT_S) -> list[dict[str, Any]]:
        """The alerts of this device's store as the server sees them (设备离线, 微信掉线,
        接待已满 …, then what the store's devices posted), at most `limit` (1-50)."""
        data = self._request("GET", "/api/v1/me/alerts", headers=self._auth(),
                             params={"limit": max(1, min(int(limit), 50))}, timeout=timeout)
        if not isinstance(data, list):
            raise SyncError("sync server sent a malformed answer")
        return [a for a in data if isinstance(a, dict)][:50]

    def mint(self, channel: str = "default", expires_in_days: float | None = None,
             target: str | None = None) -> MintedQR:
        """A store QR code for this device's store. The URL is what the QR code encodes.
        `target`: "wechat", "web" or "any" (the server's default) — what its scans need."""
        body: dict[str, Any] = {"channel": channel}
        if target is not None:
            body["target"] = target
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        data = self._request("POST", "/api/v1/qr", headers=self._auth(), json=body)
        return MintedQR(data["token"], data["jti"], data["url"], data["channel"],
                        data.get("expires_at"), str(data.get("target") or "any"))

    def revoke(self, jti: str) -> None:
        self._request("POST", f"/api/v1/qr/{jti}/revoke", headers=self._auth())

    def resolve_binding(self, code: str) -> Binding | None:
        """Which store/channel a binding code came from; None if the server does not know it."""
        try:
            data = self._request("GET", f"/api/v1/bindings/{code}", headers=self._auth())
        except SyncError as exc:
            if exc.status == 404:
                return None
            raise
        return Binding(code, int(data["store_id"]), data["store_name"], data["channel"],
                       data.get("device_id"), float(data["at"]))


class ServerAlerts:
    """The owner's alerts as last fetched from the sync server, for the screens to show.

    Written by the heartbeat thread, read by the UI: `current()` is a copy. `version` grows
    whenever the list changes; `error` says why the last fetch failed ("" after a success)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alerts: list[dict[str, Any]] = []
        self.version = 0
        self.fetched_at: float | None = None
        self.error = ""

    def current(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(a) for a in self._alerts]

    def update(self, alerts: list[dict[str, Any]], at: float) -> None:
        with self._lock:
            if alerts != self._alerts:
                self._alerts = [dict(a) for a in alerts]
                self.version += 1
            self.fetched_at = at
            self.error = ""

    def failed(self, error: str) -> None:
        with self._lock:
            self.error = error


def alert_key(alert: dict[str, Any]) -> tuple:
    """What makes two fetched alerts the same one (to tell a new alert from a repeated one)."""
    return (alert.get("kind"), alert.get("device_id"), alert.get("channel"), alert.get("id"))


class HeartbeatLoop:
    """Posts `status()` every `interval_s` from a daemon thread; never blocks the caller.

    While the server is unreachable the wait doubles (with jitter) up to `max_backoff_s`, and
    drops back to `interval_s` after the first success. The WeChat QR image is sent on the first
    successful beat and whenever its bytes change. `stop()` returns within the HTTP timeout.
    """

    def __init__(
        self,
        client: SyncClient,
        status: Callable[[], DeviceStatus],
        interval_s: float = 30.0,
        max_backoff_s: float = 300.0,
        on_result: Callable[[bool, str], None] | None = None,
        alerts: ServerAlerts | None = None,
        alerts_every_s: float = 60.0,
        clock: Callable[[], float] | None = None,
    ):
        self.client = client
        # After a beat the server took, the owner's alerts are fetched into `alerts` when the
        # last fetch is `alerts_every_s` old (a server without the endpoint: once an hour).
        self.alerts = alerts
        self.alerts_every_s = max(1.0, alerts_every_s)
        self.clock = clock or time.time
        self._alerts_due = 0.0
        self.status = status
        self.interval_s = max(0.05, interval_s)
        self.max_backoff_s = max(self.interval_s, max_backoff_s)
        self.on_result = on_result
        self.failures = 0
        self.sent = 0
        self.last_error = ""
        self._sent_image: bytes | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> HeartbeatLoop:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sync-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def next_delay(self) -> float:
        if self.failures == 0:
            return self.interval_s
        base = min(self.max_backoff_s, self.interval_s * 2 ** min(self.failures, 16))
        return base * random.uniform(0.8, 1.0)

    def beat_once(self) -> bool:
        """One heartbeat; True if the server took it. Never raises."""
        try:
            status = self.status()
            send_image = status.wechat_qr is not None and status.wechat_qr != self._sent_image
            self.client.heartbeat(status, include_image=send_image)
        except Exception as exc:  # the loop must survive anything a status source does
            self.failures += 1
            self.last_error = str(exc)
            log.info("heartbeat failed (%d in a row): %s", self.failures, exc)
            ok = False
        else:
            if send_image:
                self._sent_image = status.wechat_qr
            self.failures = 0
            self.last_error = ""
            self.sent += 1
            ok = True
            self.poll_alerts()
        if self.on_result is not None:
            try:
                self.on_result(ok, self.last_error)
            except Exception:
                log.exception("heartbeat on_result callback failed")
        return ok

    def poll_alerts(self, force: bool = False) -> None:
        """Fetch the owner's alerts if due (or `force`). Never raises."""
        if self.alerts is None:
            return
        now = self.clock()
        if not force and now < self._alerts_due:
            return
        self._alerts_due = now + self.alerts_every_s
        try:
            found = self.client.alerts()
        except SyncError as exc:
            if exc.status == 404:  # a server older than this endpoint
                self._alerts_due = now + 3600
            self.alerts.failed(str(exc))
            log.info("fetching the server's alerts failed: %s", exc)
        except Exception as exc:  # a bug must not end the heartbeat
            self.alerts.failed(str(exc))
            log.exception("fetching the server's alerts failed")
        else:
            self.alerts.update(found, now)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.beat_once()
            self._stop.wait(self.next_delay())
