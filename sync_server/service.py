"""What the server does, independent of HTTP: stores, devices, enrollment, QR tokens, scans.

The API and the command line both call this. State lives in a `storage.Storage`: SQLite (each
thread its own connection; changes that read before they write run under `BEGIN IMMEDIATE`)
or PostgreSQL (a pool; routing locks the store's row). Either way the device choice and the
claim of its daily slot are one atomic step even when several server processes share the
database, and so are the rate-limit buckets and the scan replay memory (`scan_batch`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import db as dbmod
from .ratelimit import refill
from .security import (
    BadToken,
    Claims,
    TokenKeys,
    hash_secret,
    new_binding_code,
    new_enrollment_code,
    new_jti,
    new_key_secret,
    new_secret,
    normalize_enrollment_code,
    secret_matches,
)
from .storage import Busy, open_storage

MAX_QR_IMAGE_BYTES = 150_000
# What a QR token's scans need (`target`): the WeChat landing page, the web chat, or either.
TARGETS = ("any", "wechat", "web")
# Channels whose health decides WeChat scans (the landing page shows the device's WeChat or
# WeCom QR) and web scans (a redirect to the web chat).
WECHAT_CHANNELS = ("wechat", "wecom")
WEB_CHANNELS = ("web",)
MAX_CHANNELS = 16
# How the owner reads a channel's name.
CHANNEL_LABELS = {"wechat": "微信", "wecom": "企业微信", "web": "网页客服"}
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class ServiceError(Exception):
    """A request the service refuses; `status` is the HTTP status the API answers with."""

    status = 400


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class EnrollmentRejected(ServiceError):
    """Unknown, used or expired code: one message for all three."""

    status = 403


@dataclass
class ServerConfig:
    # A device is online when its last heartbeat is at most this old (3 missed beats of 30 s).
    online_window_s: float = 90.0
    # Day boundaries for the daily new-friend caps, in hours east of UTC (China: +8).
    tz_offset_h: float = 8.0
    scan_ip_per_min: float = 120.0
    scan_token_per_min: float = 1200.0
    enroll_ip_per_min: float = 10.0
    max_body_bytes: int = 256 * 1024
    enrollment_minutes: float = 10.0
    # The public base URL printed in QR codes, e.g. https://qr.example.com; empty = request's.
    public_url: str = ""
    # A scanner's repeat scans of one token inside this window get the first answer again
    # without claiming another device slot (a scanner with the signed cookie: a day).
    scan_replay_window_s: float = 600.0
    # Addresses of reverse proxies whose X-Forwarded-For is believed; none by default.
    trusted_proxies: list[str] = field(default_factory=list)
    # Serve /openapi.json and a self-contained /docs page (no third-party assets); off.
    docs: bool = False


def _refill_s(tokens: float, rate: float, burst: float) -> float:
    """Seconds until a bucket holding `tokens` is full again (then it can be forgotten)."""
    return (burst - tokens) / rate if rate > 0 else 86_400.0


@dataclass(slots=True)
class ScanAsk:
    """One scan request as the writer sees it (see `SyncService.scan_batch`)."""

    claims: Claims | None  # None: the token failed verification (it still spends the limits)
    # (bucket key, tokens per second, burst): checked in order, the first refusal answers.
    limits: list[tuple[str, float, float]] = field(default_factory=list)
    replay: list[str] = field(default_factory=list)  # remembered-answer keys, in order
    remember: list[tuple[str, float]] = field(default_factory=list)  # (key, seconds) if routed
    # A scanner without a cookie: called only when this scan claims a slot (most repeats are
    # replays, refusals or fallbacks, which need no new scanner), it names a new scanner and
    # gives its (name, memory key, seconds); the name comes back in ScanOutcome.new_scanner.
    new_scanner: Callable[[], tuple[str, str, float]] | None = None


@dataclass(slots=True)
class ScanOutcome:
    wait: float = 0.0  # > 0: refused by a rate limit, retry after this many seconds
    result: ScanResult | None = None  # None (and wait 0): a bad token
    replayed: bool = False  # the remembered answer of an earlier scan, no slot claimed
    new_scanner: str | None = None  # named for this answer (ScanAsk.new_scanner): its cookie


@dataclass(slots=True)
class ScanResult:
    kind: str  # "device" | "redirect" | "fallback"
    store_name: str
    channel: str
    fallback_contact: str = ""
    device_id: str | None = None
    wechat_name: str = ""
    qr_sha: str | None = None
    binding_code: str | None = None
    redirect_url: str | None = None


def clean_channels(channels: Any) -> dict[str, dict[str, Any]]:
    """A device's per-channel health as stored: {name: {"ok": bool, "detail": str}}."""
    if not isinstance(channels, dict) or len(channels) > MAX_CHANNELS:
        raise ServiceError(f"channels must be an object of at most {MAX_CHANNELS} channels")
    found: dict[str, dict[str, Any]] = {}
    for name, health in channels.items():
        if not isinstance(name, str) or not 0 < len(name) <= 40 or not isinstance(health, dict):
            raise ServiceError("channels: each channel is a name (1-40 characters) and an"
                               " object {ok, detail}")
        found[name] = {"ok": bool(health.get("ok")),
                       "detail": str(health.get("detail") or "")[:200]}
    return found


def _ids(store_id: int | list[int]) -> list[int]:
    return list(store_id) if isinstance(store_id, list | tuple) else [store_id]


def channel_label(name: str) -> str:
    return CHANNEL_LABELS.get(name, name)


def channels_down(device: dict) -> list[tuple[str, str]]:
    """(channel, detail) of each channel a device reports down; ("", detail) once for a
    device that reports a single flag for all its channels."""
    if device["channels"] is None:
        return [] if device["channel_ok"] else [("", device["channel_detail"])]
    return [(name, c["detail"]) for name, c in sorted(device["channels"].items()) if not c["ok"]]


def decode_qr_image(data: str) -> tuple[bytes, str]:
    """A base64 PNG or JPEG (optionally a data: URL) → bytes and MIME type, or ServiceError."""
    if data.startswith("data:"):
        data = data.partition(",")[2]
    if len(data) > MAX_QR_IMAGE_BYTES * 4 // 3 + 8:
        raise ServiceError("wechat_qr image too large")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError("wechat_qr must be base64 PNG or JPEG") from exc
    for magic, mime in _IMAGE_MAGIC.items():
        if raw.startswith(magic):
            return raw, mime
    raise ServiceError("wechat_qr must be base64 PNG or JPEG")


# Routing, per QR target. A device reporting no per-channel health (an older app) counts as
# its one `channel_ok` for every channel, as before.
_WEB_USABLE = "(coalesce(web_ok, channel_ok) = 1 AND web_chat_url <> '')"
_WECHAT_USABLE = "coalesce(wechat_ok, channel_ok) = 1"
_ROUTE_SQL = {
    target: (
        f"SELECT id, wechat_name, qr_sha, web_chat_url, {redirect} AS redirect FROM devices"
        " WHERE store_id = :store AND revoked_at IS NULL AND last_seen >= :since"
        f" AND {usable}"
        " AND (CASE WHEN routed_day = :today THEN routed_today ELSE 0 END)"
        "     < coalesce(daily_cap, :cap)"
        " AND (CASE WHEN friends_day = :today THEN friends_today ELSE 0 END)"
        "     < coalesce(daily_cap, :cap)"
        " ORDER BY open_chats, last_routed_seq, id LIMIT 1"
    )
    for target, usable, redirect in (
        ("wechat", _WECHAT_USABLE, "0"),
        ("web", _WEB_USABLE, "1"),
        ("any", f"({_WEB_USABLE} OR {_WECHAT_USABLE})",
         f"CASE WHEN {_WEB_USABLE} THEN 1 ELSE 0 END"),
    )
}


class SyncService:
    def __init__(
        self,
        db_path: str | Path,
        config: ServerConfig | None = None,
        clock: Callable[[], float] = time.time,
        pool_max: int = 10,
    ):
        """`db_path`: a SQLite file, or a `postgresql://…` URL (see storage.open_storage)."""
        self.storage = open_storage(db_path, pool_max=pool_max)
        self.db_path = Path(db_path) if self.storage.kind == "sqlite" else str(db_path)
        self.config = config or ServerConfig()
        self.clock = clock
        self._keys: TokenKeys | None = None
        self._keys_loaded = 0.0
        self._keys_lock = threading.Lock()
        # Test seam: called between choosing a device and claiming its slot, to widen the
        # window a race would need (tests prove the claim is still atomic).
        self.on_device_chosen: Callable[[], None] | None = None
        self._checkpointer: dbmod.Checkpointer | None = None
        self._writer: Any = None  # writer.ScanWriter in serve mode
        self._pruned_at = 0.0
        self._secrets: dict[str, bytes] = {}

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def conn(self):
        return self.storage.conn

    def start_checkpointer(self, interval_s: float = 1.0) -> None:
        """Serve mode on SQLite: checkpoint the WAL from a background thread, not in requests."""
        if self._checkpointer is None and self.storage.kind == "sqlite":
            self.storage.close()  # reopen this thread's connection without auto-checkpoints
            self.storage.autocheckpoint = False
            self._checkpointer = dbmod.Checkpointer(self.db_path, interval_s).start()

    @property
    def checkpointing(self) -> bool:
        """Whether the background checkpointer copies the WAL back (SQLite serve mode)."""
        return self._checkpointer is not None

    def start_writer(self) -> None:
        """Serve mode: route scans in batches, on the event loop (SQLite, lock free) or on the
        writer thread (see writer.ScanWriter)."""
        if self._writer is None:
            from .writer import ScanWriter

            self._writer = ScanWriter(self).start()

    async def scan_async(self, ask: ScanAsk) -> ScanOutcome:
        """One scan from the event loop: limits, replay memory and routing in a batch (see
        writer.ScanWriter), or alone when no writer runs."""
        if self._writer is None:
            return self.scan_batch([ask], self.clock())[0]
        return await self._writer.submit(ask)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.storage.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self.storage.write() as c:
            yield c

    def shared_secret(self, name: str) -> bytes:
        """A random secret every server instance on this database shares (made on first use):
        e.g. the key of the scanner cookie, which any instance must be able to check."""
        found = self._secrets.get(name)
        if found is None:
            with self._write() as c:
                c.execute("INSERT INTO server_secrets (name, secret) VALUES (?, ?)"
                          " ON CONFLICT (name) DO NOTHING", (name, secrets.token_hex(32)))
                row = c.execute("SELECT secret FROM server_secrets WHERE name = ?",
                                (name,)).fetchone()
            found = self._secrets[name] = bytes.fromhex(row[0])
        return found

    def day(self, at: float | None = None) -> int:
        at = self.clock() if at is None else at
        return int((at + self.config.tz_offset_h * 3600) // 86400)

    # -- admin and keys ----------------------------------------------------------------------

    def is_initialized(self) -> bool:
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM admins WHERE revoked_at IS NULL),"
            " (SELECT count(*) FROM signing_keys WHERE retired_at IS NULL)"
        ).fetchone()
        return row[0] > 0 and row[1] > 0

    def init_admin(self, rotate: bool = False) -> str:
        """Create the admin token (returned once, stored hashed) and a first signing key."""
        token = new_secret("adm")
        now = self.clock()
        with self._write() as c:
            live = c.execute("SELECT count(*) FROM admins WHERE revoked_at IS NULL").fetchone()[0]
            if live and not rotate:
                raise ServiceError("already initialized; use --rotate-admin to replace the token")
            c.execute("UPDATE admins SET revoked_at = ? WHERE revoked_at IS NULL", (now,))
            c.execute(
                "INSERT INTO admins (token_hash, created_at) VALUES (?, ?)",
                (hash_secret(token), now),
            )
            if not c.execute("SELECT 1 FROM signing_keys WHERE retired_at IS NULL").fetchone():
                self._insert_key(c, now)
        return token

    def admin_ok(self, token: str) -> bool:
        rows = self.conn.execute("SELECT token_hash FROM admins WHERE revoked_at IS NULL").fetchall()
        ok = False
        for row in rows or [(None,)]:
            ok |= secret_matches(token, row[0])
        return ok

    def _insert_key(self, c, now: float) -> str:
        last = c.execute("SELECT kid FROM signing_keys").fetchall()
        n = max((int(r[0][1:]) for r in last), default=0) + 1
        kid = f"k{n}"
        c.execute(
            "INSERT INTO signing_keys (kid, secret, created_at) VALUES (?, ?, ?)",
            (kid, new_key_secret(), now),
        )
        return kid

    def rotate_key(self) -> str:
        """Add a new signing key; it signs from now on, the old ones keep verifying."""
        with self._write() as c:
            kid = self._insert_key(c, self.clock())
        self._keys = None
        return kid

    def retire_key(self, kid: str) -> None:
        """Stop accepting tokens signed with `kid` (they all become bad tokens)."""
        with self._write() as c:
            live = c.execute(
                "SELECT kid FROM signing_keys WHERE retired_at IS NULL"
            ).fetchall()
            if kid not in {r[0] for r in live}:
                raise NotFound(f"no active key {kid}")
            if len(live) == 1:
                raise ServiceError("cannot retire the only key; rotate first")
            c.execute("UPDATE signing_keys SET retired_at = ? WHERE kid = ?", (self.clock(), kid))
        self._keys = None

    def list_keys(self) -> list[dict]:
        return [dict(r) for r in self.conn.execute(
            "SELECT kid, created_at, retired_at FROM signing_keys ORDER BY created_at")]

    def keys(self, want: str | None = None) -> TokenKeys:
        """The cached key set; reloaded every 60 s, or (at most every 5 s) for an unseen kid."""
        now = time.monotonic()
        keys = self._keys
        stale = keys is None or now - self._keys_loaded > 60
        if not stale and want is not None and want not in keys and now - self._keys_loaded > 5:
            stale = want[:1] == "k" and len(want) < 8
        if stale:
            with self._keys_lock:
                rows = self.conn.execute(
                    "SELECT kid, secret FROM signing_keys WHERE retired_at IS NULL"
                ).fetchall()
                keys = self._keys = TokenKeys({r[0]: r[1] for r in rows})
                self._keys_loaded = now
        return keys

    # -- stores ------------------------------------------------------------------------------

    def add_store(self, name: str, fallback_contact: str = "", daily_cap: int = 100,
                  owner: str = "") -> dict:
        """`owner`: a label grouping one owner's stores (their devices see each other's
        alerts); "" for a store of its own."""
        name, owner = name.strip(), owner.strip()
        if not name or len(name) > 100:
            raise ServiceError("store name must be 1-100 characters")
        if len(owner) > 100:
            raise ServiceError("owner must be at most 100 characters")
        if daily_cap < 0:
            raise ServiceError("daily cap must not be negative")
        with self._write() as c:
            new_id = c.execute(
                "INSERT INTO stores (name, fallback_contact, daily_cap, created_at, owner)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (name, fallback_contact.strip(), daily_cap, self.clock(), owner),
            ).fetchone()[0]
        return self.get_store(new_id)

    def set_owner(self, store_id: int, owner: str) -> None:
        owner = owner.strip()
        if len(owner) > 100:
            raise ServiceError("owner must be at most 100 characters")
        with self._write() as c:
            if c.execute("UPDATE stores SET owner = ? WHERE id = ?",
                         (owner, store_id)).rowcount == 0:
                raise NotFound(f"no store {store_id}")

    def owner_stores(self, store_id: int) -> list[int]:
        """The ids of the stores of this store's owner (just this one when it has none)."""
        rows = self.conn.execute(
            "SELECT o.id FROM stores s JOIN stores o ON o.owner = s.owner AND s.owner <> ''"
            " WHERE s.id = ? ORDER BY o.id", (store_id,)).fetchall()
        return [r[0] for r in rows] or [store_id]

    def get_store(self, store_id: int) -> dict:
        row = self.conn.execute("SELECT * FROM stores WHERE id = ?", (store_id,)).fetchone()
        if row is None:
            raise NotFound(f"no store {store_id}")
        return dict(row)

    def list_stores(self) -> list[dict]:
        since = self.clock() - self.config.online_window_s
        rows = self.conn.execute(
            "SELECT s.*, count(d.id) AS devices,"
            " coalesce(sum(CASE WHEN d.last_seen >= ? THEN 1 ELSE 0 END), 0) AS online"
            " FROM stores s LEFT JOIN devices d ON d.store_id = s.id AND d.revoked_at IS NULL"
            " GROUP BY s.id ORDER BY s.id",
            (since,),
        )
        return [dict(r) for r in rows]

    # -- enrollment and devices --------------------------------------------------------------

    def create_enrollment_code(self, store_id: int, minutes: float | None = None) -> tuple[str, float]:
        self.get_store(store_id)
        minutes = self.config.enrollment_minutes if minutes is None else minutes
        if not 0 < minutes <= 24 * 60:
            raise ServiceError("an enrollment code lives between 1 minute and 1 day")
        code = new_enrollment_code()
        now = self.clock()
        expires = now + minutes * 60
        with self._write() as c:
            c.execute(
                "INSERT INTO enrollment_codes (code_hash, store_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (hash_secret(normalize_enrollment_code(code)), store_id, now, expires),
            )
        return code, expires

    def enroll(self, code: str, name: str = "", version: str = "") -> dict:
        """Spend a single-use code; returns the new device id and its secret (shown once)."""
        code_hash = hash_secret(normalize_enrollment_code(code))
        device_id = "dev_" + new_jti()
        secret = new_secret("dsk")
        now = self.clock()
        with self._write() as c:
            row = c.execute(
                "SELECT code_hash, store_id FROM enrollment_codes"
                " WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                (code_hash, now),
            ).fetchone()
            if row is None or not secret_matches(normalize_enrollment_code(code), row[0]):
                raise EnrollmentRejected("enrollment code unknown, used or expired")
            c.execute(
                "UPDATE enrollment_codes SET used_at = ?, device_id = ? WHERE code_hash = ?",
                (now, device_id, code_hash),
            )
            c.execute(
                "INSERT INTO devices (id, store_id, name, secret_hash, created_at, version)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (device_id, row[1], name[:100], hash_secret(secret), now, version[:40]),
            )
            store = c.execute("SELECT id, name FROM stores WHERE id = ?", (row[1],)).fetchone()
        return {
            "device_id": device_id,
            "device_secret": secret,
            "store_id": store[0],
            "store_name": store[1],
        }

    def authenticate_device(self, device_id: str, secret: str) -> dict | None:
        row = self.conn.execute(
            "SELECT id, store_id, secret_hash FROM devices WHERE id = ? AND revoked_at IS NULL",
            (device_id,),
        ).fetchone()
        if not secret_matches(secret, row[2] if row else None):
            return None
        return {"id": row[0], "store_id": row[1]}

    def heartbeat(self, device_id: str, status: dict) -> dict:
        """Store a device's status. A field the device did not send keeps its stored value
        (a beat that only says "alive" blanks nothing); `wechat_qr` "" clears the image."""
        now = self.clock()
        sets: dict[str, Any] = {"last_seen": now}
        if status.get("channel_ok") is not None:
            sets["channel_ok"] = int(bool(status["channel_ok"]))
        if status.get("channels") is not None:
            channels = clean_channels(status["channels"])
            sets["channels"] = json.dumps(channels, ensure_ascii=False, sort_keys=True)
            sets["wechat_ok"] = int(any(channels.get(n, {}).get("ok") for n in WECHAT_CHANNELS))
            sets["web_ok"] = int(any(channels.get(n, {}).get("ok") for n in WEB_CHANNELS))
            if "channel_ok" not in sets:
                sets["channel_ok"] = int(bool(channels) and all(
                    c["ok"] for c in channels.values()))
        elif "channel_ok" in sets:
            # An app that reports one flag for all its channels (older than per-channel
            # health): that flag is its health again, for every channel.
            sets.update(channels=None, wechat_ok=None, web_ok=None)
        for name, limit in (("channel_detail", 200), ("version", 40), ("wechat_name", 64),
                            ("web_chat_url", 10_000)):
            if status.get(name) is not None:
                sets[name] = str(status[name])[:limit]
        for name in ("open_chats", "friends_today"):
            if status.get(name) is not None:
                sets[name] = int(status[name])
        if "friends_today" in sets:
            sets["friends_day"] = self.day(now)
        url = sets.get("web_chat_url", "")
        if url and (len(url) > 500 or not url.startswith(("https://", "http://"))
                    or any(ch in url for ch in "\"'<> \r\n")):
            raise ServiceError("web_chat_url must be an http(s) URL")
        image = status.get("wechat_qr")
        if image is not None:
            if image == "":
                sets.update(qr_image=None, qr_mime=None, qr_sha=None)
            else:
                raw, mime = decode_qr_image(image)
                sets.update(qr_image=raw, qr_mime=mime, qr_sha=hashlib.sha256(raw).hexdigest())
        assignments = ", ".join(f"{k} = :{k}" for k in sets)
        with self._write() as c:
            c.execute(f"UPDATE devices SET {assignments} WHERE id = :id", {**sets, "id": device_id})
            row = c.execute(
                "SELECT store_id, qr_sha IS NOT NULL FROM devices WHERE id = ?", (device_id,)
            ).fetchone()
        return {"ok": True, "server_time": now, "store_id": row[0], "has_qr_image": bool(row[1])}

    def add_alert(self, device_id: str, store_id: int, alert: dict) -> dict:
        """Record a device's alert once (a retry with the same key is accepted, not doubled)."""
        now = self.clock()
        at = float(alert.get("at") or now)
        if not (0 < at < now + 86_400):
            raise ServiceError("alert time out of range")
        with self._write() as c:
            c.execute(
                "INSERT INTO device_alerts (device_id, store_id, key, at, received_at,"
                " channel, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id, key) DO NOTHING",
                (device_id, store_id, str(alert["key"])[:80], at, now,
                 str(alert.get("channel", ""))[:40], str(alert["detail"])[:500]))
            row = c.execute("SELECT id FROM device_alerts WHERE device_id = ? AND key = ?",
                            (device_id, str(alert["key"])[:80])).fetchone()
        return {"ok": True, "id": row[0]}

    def reported_alerts(self, store_id: int | list[int] | None = None, limit: int = 100
                        ) -> list[dict]:
        """The alerts devices posted, newest first, with the device and store they came from;
        of one store, of a list of stores, or of all."""
        sql = ("SELECT a.id, a.device_id, d.name AS device_name, a.store_id, s.name AS store_name,"
               " a.at, a.received_at, a.channel, a.detail FROM device_alerts a"
               " JOIN devices d ON d.id = a.device_id JOIN stores s ON s.id = a.store_id")
        params: list[Any] = []
        if store_id is not None:
            ids = _ids(store_id)
            sql += f" WHERE a.store_id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY a.id DESC LIMIT ?",
                                                   (*params, max(1, min(limit, 1000))))]

    def list_devices(self, store_id: int | list[int] | None = None) -> list[dict]:
        now = self.clock()
        today = self.day(now)
        sql = (
            "SELECT d.id, d.store_id, s.name AS store_name, d.name, d.created_at, d.last_seen,"
            " d.version, d.channel_ok, d.channel_detail, d.channels, d.wechat_ok, d.web_ok,"
            " d.open_chats, d.wechat_name,"
            " d.web_chat_url, d.qr_sha IS NOT NULL AS has_qr_image,"
            " CASE WHEN d.friends_day = :today THEN d.friends_today ELSE 0 END AS friends_today,"
            " CASE WHEN d.routed_day = :today THEN d.routed_today ELSE 0 END AS routed_today,"
            " coalesce(d.daily_cap, s.daily_cap) AS daily_cap"
            " FROM devices d JOIN stores s ON s.id = d.store_id WHERE d.revoked_at IS NULL"
        )
        params: dict[str, Any] = {"today": today}
        if store_id is not None:
            ids = _ids(store_id)
            sql += f" AND d.store_id IN ({', '.join(f':s{i}' for i in range(len(ids)))})"
            params.update({f"s{i}": sid for i, sid in enumerate(ids)})
        rows = [dict(r) for r in self.conn.execute(sql + " ORDER BY d.store_id, d.id", params)]
        for r in rows:
            seen = r["last_seen"]
            r["online"] = seen is not None and now - seen <= self.config.online_window_s
            r["channel_ok"] = bool(r["channel_ok"])
            r["has_qr_image"] = bool(r["has_qr_image"])
            # Per-channel health as reported; None: the device reports one flag (channel_ok).
            r["channels"] = json.loads(r["channels"]) if r["channels"] else None
            # What routing reads: can it take WeChat scans, web chat scans.
            r["wechat_ok"] = r["channel_ok"] if r["wechat_ok"] is None else bool(r["wechat_ok"])
            r["web_ok"] = (r["channel_ok"] if r["web_ok"] is None else bool(r["web_ok"])) \
                and bool(r["web_chat_url"])
        return rows

    def set_device_cap(self, device_id: str, cap: int | None) -> None:
        with self._write() as c:
            if c.execute("UPDATE devices SET daily_cap = ? WHERE id = ?", (cap, device_id)).rowcount == 0:
                raise NotFound(f"no device {device_id}")

    # -- QR tokens ---------------------------------------------------------------------------

    def mint(
        self, store_id: int, channel: str, expires_in_s: float | None, created_by: str,
        target: str = "any",
    ) -> dict:
        """A signed store QR token. `channel` is the attribution label (where the code hangs);
        `target` what its scans need: "wechat" (a device whose WeChat works), "web" (a device
        whose web chat works and has a URL) or "any" (either; the web chat preferred)."""
        self.get_store(store_id)
        channel = channel.strip() or "default"
        if len(channel) > 40:
            raise ServiceError("channel label must be at most 40 characters")
        if target not in TARGETS:
            raise ServiceError(f"target must be one of {', '.join(TARGETS)}")
        if expires_in_s is not None and expires_in_s <= 0:
            raise ServiceError("expiry must be in the future")
        now = self.clock()
        expires = now + expires_in_s if expires_in_s is not None else None
        keys = self.keys()
        jti = new_jti()
        with self._write() as c:
            c.execute(
                "INSERT INTO qr_tokens (jti, store_id, channel, kid, created_at, expires_at,"
                " created_by, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (jti, store_id, channel, keys.newest, now, expires, created_by, target),
            )
        token = keys.sign(store_id, jti, expires)
        return {"token": token, "jti": jti, "store_id": store_id, "channel": channel,
                "target": target, "expires_at": int(expires) if expires is not None else None}

    def token_info(self, jti: str) -> dict:
        row = self.conn.execute("SELECT * FROM qr_tokens WHERE jti = ?", (jti,)).fetchone()
        if row is None:
            raise NotFound(f"no QR token {jti}")
        return dict(row)

    def jti_of(self, token_or_jti: str) -> str:
        """Accept a whole token (verified) or a bare token id."""
        if "." in token_or_jti:
            try:
                return self.keys().verify(token_or_jti, now=0).jti
            except BadToken as exc:
                raise NotFound("not a token this server signed") from exc
        return token_or_jti

    def revoke(self, jti: str, store_id: int | None = None) -> None:
        """Revoke a token; with `store_id`, only a token of that store (a device's own)."""
        with self._write() as c:
            row = c.execute("SELECT store_id FROM qr_tokens WHERE jti = ?", (jti,)).fetchone()
            if row is None or (store_id is not None and row[0] != store_id):
                raise NotFound(f"no QR token {jti}")
            c.execute(
                "UPDATE qr_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE jti = ?",
                (self.clock(), jti),
            )

    def list_tokens(self, store_id: int | None = None) -> list[dict]:
        sql = ("SELECT jti, store_id, channel, target, kid, created_at, expires_at, revoked_at"
               " FROM qr_tokens")
        params: tuple = ()
        if store_id is not None:
            sql += " WHERE store_id = ?"
            params = (store_id,)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY created_at", params)]

    # -- scans -------------------------------------------------------------------------------

    def scan(self, token: str) -> ScanResult:
        """Verify a scanned token and route it: BadToken, or where the customer goes.

        The device choice and the claim of one of its daily slots happen under the write lock
        (SQLite) or the store's row lock (PostgreSQL), so a device with one slot left is given
        to exactly one scan.
        """
        now = self.clock()
        claims = self.verify(token, now)
        with self._write() as c:
            return self._route(c, claims, now)

    def scan_batch(self, asks: list[ScanAsk], now: float, *, wait: bool = True
                   ) -> list[ScanOutcome | Exception]:
        """Several scans in one transaction (one commit), in order: rate limits, then the
        replay memory, then routing. Everything here is shared by every server instance on
        the database. A database error fails the whole batch (each entry is that exception);
        a deadlock between instances on PostgreSQL is retried.

        `wait=False` (SQLite, from the event loop): the batch runs at once or raises
        storage.Busy having written nothing, never waiting for a lock; expired rows are left
        for `prune_due` to report."""
        for attempt in range(3):
            try:
                with (self._write() if wait else self.storage.write_nowait()) as c:
                    outcomes = self._scan_batch(c, asks, now)
                break
            except Busy:  # only write_nowait raises it: the caller queues the batch instead
                raise
            except Exception as exc:
                retry = getattr(self.storage, "retryable", None)
                if attempt < 2 and retry is not None and retry(exc):
                    continue
                return [exc] * len(asks)
        if wait and self.prune_due(now):
            self.prune(now)
        return outcomes

    def prune_due(self, now: float) -> bool:
        """True once a minute (and marks it done): time to forget expired scan state."""
        if now - self._pruned_at <= 60:
            return False
        self._pruned_at = now
        return True

    def _scan_batch(self, c: Any, asks: list[ScanAsk], now: float) -> list[ScanOutcome | Exception]:
        shapes = {k: (rate, burst) for a in asks for k, rate, burst in a.limits}
        buckets = self._load_buckets(c, shapes, now)
        changed: set[str] = set()
        outcomes: list[ScanOutcome | Exception] = []
        # A busy poster sends one token (and often one scanner) many times per batch: each
        # token row and replay key is read once per batch, and answers remembered in this
        # batch are seen by the scans after them.
        token_rows: dict[str, Any] = {}  # "jti/store" -> row, None when refused
        remembered: dict[str, ScanResult | None] = {}
        for ask in asks:
            wait = 0.0
            for key, rate, burst in ask.limits:
                tokens, at = buckets.get(key, (burst, now))
                tokens, wait = refill(tokens, at, now, rate, burst)
                buckets[key] = (tokens, now)
                changed.add(key)
                if wait:
                    break
            if wait:
                outcomes.append(ScanOutcome(wait=wait))
                continue
            if ask.claims is None:
                outcomes.append(ScanOutcome())
                continue
            which = f"{ask.claims.jti}/{ask.claims.store_id}"
            if which not in token_rows:
                try:
                    token_rows[which] = self._token_row(c, ask.claims, now)
                except BadToken:
                    token_rows[which] = None
            token_row = token_rows[which]
            if token_row is None:
                outcomes.append(ScanOutcome())
                continue
            again = self._remembered(c, ask.replay, now, remembered)
            if again is not None:
                outcomes.append(ScanOutcome(result=again, replayed=True))
                continue
            result = self._route(c, ask.claims, now, token_row)
            outcome = ScanOutcome(result=result)
            if result.kind != "fallback":  # a claimed slot: the same answer for repeats
                answer = json.dumps(asdict(result), ensure_ascii=False)
                remember = ask.remember
                if ask.new_scanner is not None:
                    outcome.new_scanner, key, window = ask.new_scanner()
                    remember = [(key, window), *remember]
                for key, window in remember:
                    c.execute("INSERT INTO scan_replays (key, until_at, answer) VALUES (?, ?, ?)"
                              " ON CONFLICT (key) DO UPDATE SET until_at = excluded.until_at,"
                              " answer = excluded.answer", (key, now + window, answer))
                    remembered[key] = result
            outcomes.append(outcome)
        if changed:
            c.executemany(
                "INSERT INTO rate_buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at,"
                " full_at = excluded.full_at",
                [(k, tokens, at, now + _refill_s(tokens, *shapes[k]))
                 for k in sorted(changed) for tokens, at in [buckets[k]]])
        return outcomes

    def _load_buckets(self, c: Any, shapes: dict[str, tuple[float, float]], now: float
                      ) -> dict[str, tuple[float, float]]:
        if not shapes:
            return {}
        keys = sorted(shapes)
        marks = ", ".join("?" * len(keys))
        if self.storage.kind == "postgres":
            # Lock every bucket this batch spends from, in key order (no lock-order cycles
            # between instances); a missing row is created full first so it can be locked too.
            c.executemany("INSERT INTO rate_buckets (key, tokens, at, full_at)"
                          " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                          [(k, shapes[k][1], now, now) for k in keys])
            return {r[0]: (r[1], r[2]) for r in c.execute(
                f"SELECT key, tokens, at FROM rate_buckets WHERE key IN ({marks})"
                " ORDER BY key FOR UPDATE", keys)}
        return {r[0]: (r[1], r[2]) for r in c.execute(
            f"SELECT key, tokens, at FROM rate_buckets WHERE key IN ({marks})", keys)}

    def take(self, key: str, per_min: float, burst: float) -> float:
        """Spend one token from a shared bucket: 0 when allowed, else seconds to wait."""
        outcome = self.scan_batch([ScanAsk(None, [(key, per_min / 60.0, burst)])], self.clock())[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome.wait

    @staticmethod
    def _remembered(c: Any, keys: list[str], now: float,
                    cache: dict[str, ScanResult | None]) -> ScanResult | None:
        for key in keys:
            if key not in cache:
                row = c.execute("SELECT answer FROM scan_replays WHERE key = ? AND until_at > ?",
                                (key, now)).fetchone()
                cache[key] = ScanResult(**json.loads(row[0])) if row is not None else None
            if cache[key] is not None:
                return cache[key]
        return None

    def prune(self, now: float | None = None) -> None:
        """Forget expired replay answers and rate-limit buckets that have filled up again."""
        now = self.clock() if now is None else now
        with self._write() as c:
            c.execute("DELETE FROM scan_replays WHERE until_at <= ?", (now,))
            c.execute("DELETE FROM rate_buckets WHERE full_at <= ?", (now,))

    def still_valid(self, token: str) -> bool:
        """Whether a token that was accepted before still is: signature, key, expiry and
        revocation, by one indexed read (no slot is claimed)."""
        now = self.clock()
        try:
            claims = self.verify(token, now)
        except BadToken:
            return False
        row = self.conn.execute(
            "SELECT store_id, expires_at, revoked_at FROM qr_tokens WHERE jti = ?",
            (claims.jti,)).fetchone()
        return (row is not None and row[0] == claims.store_id and row[2] is None
                and (row[1] is None or row[1] > now))

    def verify(self, token: str, now: float) -> Claims:
        """Signature, key id and expiry: pure CPU, no database."""
        kid = token.partition(".")[0] if isinstance(token, str) else ""
        return self.keys(want=kid).verify(token, now)

    @staticmethod
    def _token_row(c: Any, claims: Claims, now: float) -> Any:
        """The token's row with its store, or BadToken (unknown, revoked, expired, other store)."""
        row = c.execute(
            "SELECT t.store_id, t.channel, t.expires_at, t.revoked_at, s.name,"
            " s.fallback_contact, s.daily_cap, t.target"
            " FROM qr_tokens t JOIN stores s ON s.id = t.store_id WHERE t.jti = ?",
            (claims.jti,),
        ).fetchone()
        if (
            row is None
            or row[0] != claims.store_id
            or row[3] is not None
            or (row[2] is not None and row[2] <= now)
        ):
            raise BadToken("unknown, revoked or cross-store token")
        return row

    def _route(self, c: Any, claims: Claims, now: float, row: Any = None) -> ScanResult:
        """Inside a write transaction: revocation check, device choice, slot claim, scan row.

        Raises BadToken before writing anything, so a batch can carry on past it. Only a
        device that is online and whose channel for this QR is healthy is chosen: a WeChat QR
        needs a working WeChat, a web QR a working web chat with a URL (a PC whose WeChat is
        logged out still takes web chat customers); a QR for either prefers the web chat.
        """
        today = self.day(now)
        if row is None:
            row = self._token_row(c, claims, now)
        store_id, channel, store_name, fallback, store_cap = row[0], row[1], row[4], row[5], row[6]
        self.storage.lock_store(c, store_id)
        device = c.execute(
            _ROUTE_SQL.get(row[7], _ROUTE_SQL["any"]),
            {"store": store_id, "since": now - self.config.online_window_s,
             "today": today, "cap": store_cap},
        ).fetchone()
        if device is None:
            c.execute(
                "INSERT INTO scans (at, store_id, channel, jti, outcome)"
                " VALUES (?, ?, ?, ?, 'fallback')",
                (now, store_id, channel, claims.jti),
            )
            return ScanResult("fallback", store_name, channel, fallback_contact=fallback)
        if self.on_device_chosen is not None:
            self.on_device_chosen()
        c.execute(
            "UPDATE devices SET"
            " routed_today = CASE WHEN routed_day = :today THEN routed_today + 1 ELSE 1 END,"
            " routed_day = :today,"
            " last_routed_seq = (SELECT max(last_routed_seq) FROM devices"
            "                    WHERE store_id = :store) + 1"
            " WHERE id = :id",
            {"today": today, "store": store_id, "id": device[0]},
        )
        code = new_binding_code()
        kind = "redirect" if device[4] else "device"
        c.execute(
            "INSERT INTO scans (at, store_id, channel, jti, device_id, outcome, binding_code)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now, store_id, channel, claims.jti, device[0], kind, code),
        )
        redirect = None
        if device[4]:
            sep = "&" if "?" in device[3] else "?"
            redirect = f"{device[3]}{sep}bind={code}"
        return ScanResult(
            kind, store_name, channel, fallback_contact=fallback, device_id=device[0],
            wechat_name=device[1], qr_sha=device[2], binding_code=code, redirect_url=redirect,
        )

    def image(self, sha: str) -> tuple[bytes, str] | None:
        row = self.conn.execute(
            "SELECT qr_image, qr_mime FROM devices WHERE qr_sha = ? AND revoked_at IS NULL LIMIT 1",
            (sha,),
        ).fetchone()
        return (bytes(row[0]), row[1]) if row and row[0] is not None else None

    def resolve_binding(self, store_id: int, code: str) -> dict | None:
        """Which scan (channel, device, time) a binding code came from, within one store."""
        row = self.conn.execute(
            "SELECT sc.store_id, s.name AS store_name, sc.channel, sc.device_id, sc.at"
            " FROM scans sc JOIN stores s ON s.id = sc.store_id"
            " WHERE sc.binding_code = ? AND sc.store_id = ? ORDER BY sc.id DESC LIMIT 1",
            (code.strip().upper(), store_id),
        ).fetchone()
        return dict(row) if row else None

    def stats(self, store_id: int | None = None, since: float | None = None) -> dict:
        """Scans since `since` by store, device and outcome; devices online; channel health."""
        now = self.clock()
        since = now - 86_400 if since is None else since
        where, params = "WHERE at >= ?", [since]
        if store_id is not None:
            where += " AND store_id = ?"
            params.append(store_id)
        scans = [dict(r) for r in self.conn.execute(
            "SELECT store_id, device_id, outcome, count(*) AS scans FROM scans " + where
            + " GROUP BY store_id, device_id, outcome ORDER BY store_id, device_id, outcome",
            params)]
        devices = self.list_devices(store_id)
        online = [d for d in devices if d["online"]]
        down: dict[str, int] = {}
        for d in online:
            for name, _detail in channels_down(d):
                down[name] = down.get(name, 0) + 1
        return {
            "since": since, "until": now,
            "scans": scans,
            "scans_total": sum(r["scans"] for r in scans),
            "devices": len(devices),
            "devices_online": len(online),
            "channels_down": len([d for d in online if not d["channel_ok"]]),
            # Online devices by channel that is down ("" : a device reporting one flag).
            "channels_down_by_channel": down,
            "devices_taking_wechat": len([d for d in online if d["wechat_ok"]]),
            "devices_taking_web": len([d for d in online if d["web_ok"]]),
            "device_health": [
                {k: d[k] for k in ("id", "store_id", "name", "online", "last_seen", "channel_ok",
                                   "channel_detail", "channels", "wechat_ok", "web_ok",
                                   "routed_today", "friends_today", "daily_cap", "open_chats")}
                for d in devices],
        }

    def alerts(self, store_id: int | list[int] | None = None, limit: int = 100) -> list[dict]:
        """What the owner should act on: the conditions of now (computed, nothing stored:
        device_offline, channel_down (per channel: `channel` "wechat", "web" …, or "" for a
        device reporting one flag), cap_reached, store_unavailable, target_unavailable (the
        store takes customers, but no device takes the scans of its live wechat or web
        codes)), then what the devices
        reported themselves (kind device_alert: WeChat logged out, its UI changed, sends
        failing ...), newest first, at most `limit` of those. Each has a short Chinese `title`
        (设备离线, 微信掉线, 接待已满 …) and a `message`."""
        devices = self.list_devices(store_id)
        found: list[dict] = []
        for d in devices:
            who = d["name"] or d["id"]
            base = {"store_id": d["store_id"], "store_name": d["store_name"],
                    "device_id": d["id"], "device_name": d["name"]}
            if d["last_seen"] is not None and not d["online"]:
                found.append({**base, "kind": "device_offline", "title": "设备离线",
                              "since": d["last_seen"],
                              "message": f"{d['store_name']} 的 {who} 已离线（超过"
                                         f" {int(self.config.online_window_s)} 秒没有心跳）"})
            elif d["online"]:
                for name, detail in channels_down(d):
                    if name:
                        what = f"{channel_label(name)}掉线"
                    else:  # one flag for all its channels: which one is not known
                        what, detail = "渠道异常（微信掉线？）", d["channel_detail"]
                    found.append({**base, "kind": "channel_down", "channel": name,
                                  "title": what.partition("（")[0], "detail": detail,
                                  "message": f"{d['store_name']} 的 {who} {what}："
                                             f"{detail or '无详情'}"})
            cap = d["daily_cap"]
            if d["online"] and cap is not None and max(d["routed_today"], d["friends_today"]) >= cap:
                found.append({**base, "kind": "cap_reached", "title": "接待已满", "cap": cap,
                              "message": f"{d['store_name']} 的 {who} 今天的新客上限 {cap} 已满"})
        stores = self.list_stores() if store_id is None else [
            s for s in self.list_stores() if s["id"] in _ids(store_id)]
        targets = self._live_targets(self.clock(), [s["id"] for s in stores])
        for s in stores:
            mine = [d for d in devices if d["store_id"] == s["id"]]
            usable = [d for d in mine if d["online"] and (d["wechat_ok"] or d["web_ok"])
                      and max(d["routed_today"], d["friends_today"]) < (d["daily_cap"] or 0)]
            if mine and not usable:
                found.append({"store_id": s["id"], "store_name": s["name"], "device_id": None,
                              "kind": "store_unavailable", "title": "无设备可接待",
                              "message": f"{s['name']} 没有可接待新客的设备：扫码顾客只能看到备用联系方式"})
                continue
            # Some device takes customers, but not through the codes of one kind in use.
            for target, label in (("wechat", "微信码"), ("web", "网页码")):
                if mine and target in targets.get(s["id"], ()) and not any(
                        d[f"{target}_ok"] for d in usable):
                    found.append({
                        "store_id": s["id"], "store_name": s["name"], "device_id": None,
                        "kind": "target_unavailable", "target": target,
                        "title": f"{label}无人接待",
                        "message": f"{s['name']} 没有{channel_label(target)}可用的设备："
                                   f"扫{label}的顾客只能看到备用联系方式"})
        for r in self.reported_alerts(store_id, limit):
            who = r["device_name"] or r["device_id"]
            found.append({**r, "kind": "device_alert", "title": "设备报警",
                          "message": f"{r['store_name']} 的 {who}：{r['detail']}"})
        return found

    def _live_targets(self, now: float, store_ids: list[int]) -> dict[int, set[str]]:
        """The targets of these stores' usable QR tokens (not revoked, not expired)."""
        found: dict[int, set[str]] = {}
        if not store_ids:
            return found
        marks = ", ".join("?" * len(store_ids))
        for r in self.conn.execute(
                "SELECT DISTINCT store_id, target FROM qr_tokens WHERE revoked_at IS NULL"
                f" AND (expires_at IS NULL OR expires_at > ?) AND store_id IN ({marks})",
                (now, *store_ids)):
            found.setdefault(r[0], set()).add(r[1])
        return found

    def scan_stats(self, store_id: int | None = None) -> list[dict]:
        sql = ("SELECT store_id, channel, device_id, outcome, count(*) AS scans FROM scans"
               + (" WHERE store_id = ?" if store_id is not None else "")
               + " GROUP BY store_id, channel, device_id, outcome ORDER BY store_id, channel")
        return [dict(r) for r in self.conn.execute(sql, (store_id,) if store_id is not None else ())]

