"""The chat page's HTTP side: a Starlette app and the uvicorn thread that serves it.

Customer-facing only: the page, its two static files, and three JSON/stream endpoints for the
session the signed cookie names. Nothing here reads or changes shop data; there is no admin
route. Imported only when the web channel starts (Starlette and uvicorn are the `server` extra).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import socket
import threading
import time
from importlib import resources
from typing import Any

import uvicorn
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from ...asgiheaders import SecurityHeaders, client_address
from ...errors import ChannelUnavailable
from ...ratelimit import RateLimiter
from ...safejson import BadBody, loads
from .hub import CLIENT_ID, Hub

log = logging.getLogger("alpha01.web")

COOKIE = "a01chat"
COOKIE_MAX_AGE = 30 * 86_400
PING_S = 15.0
BIND_CODE = re.compile(r"^[2-9A-HJ-KM-NP-Za-hj-km-np-z]{6}$")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's address may carry the access token
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

STATIC = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}


def _static(name: str) -> bytes:
    return resources.files("alpha01.channels").joinpath("web_static", name).read_bytes()


class ChatServer:
    """Owns the Starlette app and the uvicorn server thread for one WebChannel."""

    def __init__(self, hub: Hub, settings: Any, *, secret: bytes, shop_name: str) -> None:
        self.hub = hub
        self.s = settings  # WebSettings
        self.shop_name = shop_name
        self.signer = URLSafeTimedSerializer(secret, salt="alpha01-web-session")
        token = self.s.access_token
        # Cookies name the token they were issued under: a new token ends the old sessions.
        self.token_tag = hashlib.sha256(token.encode()).hexdigest()[:12] if token else ""
        self.secure_cookie = self.s.public_url.lower().startswith("https://")
        self.per_session = RateLimiter(self.s.session_per_min,
                                       max(3.0, self.s.session_per_min / 4))
        self.per_address = RateLimiter(self.s.address_per_min,
                                       max(5.0, self.s.address_per_min / 4))
        self.new_sessions = RateLimiter(self.s.new_sessions_per_min,
                                        max(3.0, self.s.new_sessions_per_min / 4))
        self.files = {name: _static(name) for name in STATIC}
        self.index = _static("index.html")
        self.closing = asyncio.Event()  # set on the server's loop at shutdown
        self.by_address: dict[str, int] = {}  # open streams per client address
        self.trusted = frozenset(getattr(self.s, "trusted_proxies", ()) or ())
        self.app = SecurityHeaders(Starlette(routes=[
            Route("/", self.page, methods=["GET"]),
            Route("/static/{name}", self.static, methods=["GET"]),
            Route("/api/history", self.history, methods=["GET"]),
            Route("/api/messages", self.post_message, methods=["POST"]),
            Route("/api/events", self.events, methods=["GET"]),
        ]), SECURITY_HEADERS)  # on every response: 404s and 405s too
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.s.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.s.host, self.s.port))
        except OSError as exc:
            sock.close()
            raise ChannelUnavailable(
                f"web chat cannot listen on {self.s.host}:{self.s.port}: "
                f"{exc.strerror or exc}") from exc
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2, lifespan="off",
                                proxy_headers=False, server_header=False,
                                limit_concurrency=max(64, self.s.max_streams + 256),
                                backlog=2048)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="web-chat",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ChannelUnavailable("web chat server did not start")
            time.sleep(0.01)

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._main(sock))
        except Exception:
            log.exception("web chat server stopped")
        finally:
            sock.close()

    async def _main(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self.closing = asyncio.Event()
        assert self._server is not None
        await self._server.serve(sockets=[sock])

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self.closing.set)
            except RuntimeError:
                pass
        self.hub.close_streams()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None

    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive() and self._server
                    and self._server.started)

    # -- sessions -----------------------------------------------------------------------------

    def _sid(self, request: Request) -> str | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self.signer.loads(raw, max_age=COOKIE_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("k") != self.token_tag:
            return None
        sid = data.get("s")
        return sid if isinstance(sid, str) and CLIENT_ID.match(sid) else None

    def _token_ok(self, request: Request) -> bool:
        if not self.s.access_token:
            return True
        given = request.query_params.get("t", "")
        return hmac.compare_digest(given.encode(), self.s.access_token.encode())

    def _address(self, request: Request) -> str:
        """The customer's address for the per-address limits: the peer, or behind one of
        `web.trusted_proxies` the address it forwards (X-Forwarded-For)."""
        return client_address(request.scope, self.trusted)

    # -- routes -------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        sid = self._sid(request)
        new_sid = None
        if sid is None:
            if not self._token_ok(request):
                return _secure(PlainTextResponse(
                    "请扫描店铺的二维码进入聊天。", status_code=403))
            wait = self.new_sessions.take(self._address(request))
            if wait:
                return _too_many(wait, text=True)
            sid = new_sid = secrets.token_urlsafe(16)
        bind = request.query_params.get("bind", "")
        if BIND_CODE.match(bind):
            self.hub.tag(sid, bind=bind)
        resp = _secure(Response(self.index, media_type="text/html; charset=utf-8"))
        if new_sid is not None:
            resp.set_cookie(COOKIE, self.signer.dumps({"s": new_sid, "k": self.token_tag}),
                            max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax",
                            secure=self.secure_cookie, path="/")
        return resp

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.files:
            return _secure(PlainTextResponse("not found", status_code=404))
        resp = _secure(Response(self.files[name], media_type=STATIC[name]))
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    async def history(self, request: Request) -> Response:
        sid = self._sid(request)
        if sid is None:
            return _error(401, "会话已失效，请重新扫码进入。")
        position = await asyncio.to_thread(self.hub.position, sid)
        items = self.hub.transcript(sid)
        return _secure(JSONResponse({"shop": self.shop_name, "items": items,
                                     "position": position,
                                     "max_chars": self.s.max_message_chars}))

    async def post_message(self, request: Request) -> Response:
        sid = self._sid(request)
        if sid is None:
            return _error(401, "会话已失效，请重新扫码进入。")
        if not _same_origin(request):
            return _error(403, "forbidden")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "expected application/json")
        body = await _read_capped(request, self.s.max_body_bytes)
        if body is None:
            return _error(413, "消息太长了。")
        try:
            data = loads(body, max_bytes=self.s.max_body_bytes, max_depth=4)
        except BadBody as exc:
            return _error(exc.status, f"消息格式不对（{exc.message}）。")
        if not isinstance(data, dict):
            return _error(400, "bad json")
        client_id, text = data.get("id"), data.get("text")
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            return _error(400, "bad message id")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "消息不能为空。")
        text = text.strip()
        if len(text) > self.s.max_message_chars:
            return _error(413, f"消息太长了（最多 {self.s.max_message_chars} 字）。")
        for limiter, key in ((self.per_session, sid), (self.per_address, self._address(request))):
            wait = limiter.take(key)
            if wait:
                return _too_many(wait)
        new, item = self.hub.accept(sid, client_id, text)
        return _secure(JSONResponse({"new": new, "item": item}))

    async def events(self, request: Request) -> Response:
        sid = self._sid(request)
        if sid is None:
            return _error(401, "会话已失效，请重新扫码进入。")
        address = self._address(request)
        if (self.hub.streams >= self.s.max_streams
                or self.by_address.get(address, 0) >= self.s.streams_per_address):
            return _too_many(5.0)
        after = (request.headers.get("last-event-id")
                 or request.query_params.get("after") or "")[:40]
        # A session keeps its newest streams: an older one of the same session ends (a
        # reloaded page, or one client opening stream after stream), so it never holds more.
        q, reset, missed = self.hub.subscribe(sid, after, keep=self.s.streams_per_session)
        self.by_address[address] = self.by_address.get(address, 0) + 1
        closing = self.closing
        epoch = self.hub.epoch

        def sse(item: dict[str, Any]) -> bytes:
            data = json.dumps(item, ensure_ascii=False)
            return f"id: {epoch}.{item['seq']}\ndata: {data}\n\n".encode()

        async def stream():
            try:
                yield b"retry: 2000\n\n"
                if reset is not None:
                    last = reset[-1]["seq"] if reset else 0
                    data = json.dumps({"items": reset}, ensure_ascii=False)
                    yield f"id: {epoch}.{last}\nevent: reset\ndata: {data}\n\n".encode()
                for item in missed:
                    yield sse(item)
                while not closing.is_set():
                    try:
                        item = await asyncio.wait_for(q.get(), PING_S)
                    except TimeoutError:
                        yield b": ping\n\n"
                        continue
                    if item is None:
                        break
                    yield sse(item)
            finally:
                self.hub.unsubscribe(sid, q)
                left = self.by_address.get(address, 1) - 1
                if left > 0:
                    self.by_address[address] = left
                else:
                    self.by_address.pop(address, None)

        resp = StreamingResponse(stream(), media_type="text/event-stream")
        resp.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must not hold replies back
        return _secure(resp)


def _int(value: str | None, default: int) -> int:
    try:
        return max(0, int(value)) if value is not None else default
    except ValueError:
        return default


def _secure(resp: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def _error(status: int, message: str) -> Response:
    return _secure(JSONResponse({"error": message}, status_code=status))


def _too_many(wait: float, *, text: bool = False) -> Response:
    message = "发送太频繁了，请稍后再试。"
    resp = (PlainTextResponse(message, status_code=429) if text
            else JSONResponse({"error": message, "retry_after": round(wait, 1)},
                              status_code=429))
    resp.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return _secure(resp)


def _same_origin(request: Request) -> bool:
    """A cross-site page must not post as this customer (the cookie is SameSite=Lax too)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


async def _read_capped(request: Request, cap: int) -> bytes | None:
    length = request.headers.get("content-length")
    if length is not None and _int(length, cap + 1) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > cap:
            return None
    return bytes(body)
