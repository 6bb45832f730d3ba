"""The HTTP API (FastAPI). OpenAPI docs at /docs. (No `from __future__ import annotations`:
FastAPI must resolve the dependency annotations of handlers defined inside `create_app`.)

Authentication is a bearer token: the admin token (`adm_…`), or a device credential
`<device_id>.<device_secret>`. Handlers are `async` and call the service inline: every database
step is a short indexed statement, and one event loop owning the connection avoids thread hops.
"""


import logging
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from alpha01.asgiheaders import SecurityHeaders, client_address

from . import __version__, docs, pages
from .bodies import DbId, JsonGuard, reply
from .edge import HEADERS
from .ratelimit import RateLimiter
from .scan import ScanFastPath, ScanHandler
from .service import Forbidden, ServiceError, SyncService
from .storage import InvalidText

log = logging.getLogger("sync_server")

# The most alerts a device can ask for at once (it polls them for the owner's screen).
MAX_DEVICE_ALERTS = 50


class BodyLimit:
    """Pure ASGI middleware: refuse request bodies over `max_bytes` with 413.

    Checks Content-Length up front and counts streamed chunks, so a chunked upload without a
    length cannot get past it either.
    """

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    return await reply(send, 413, "request body too large")
        seen = 0
        started = False
        refused = False

        async def counting_receive():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer now; the app sees a disconnected client and its reply is dropped.
                    refused = True
                    if not started:
                        await reply(send, 413, "request body too large")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


class _AnyTextConvertor(Convertor):
    """A path parameter that takes everything, newlines included (":path" stops at them), so
    every string a scanner sends after /q/ reaches the one bad-token answer."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anytext", _AnyTextConvertor())


# -- request and response bodies ---------------------------------------------------------------


class EnrollIn(BaseModel):
    code: str = Field(min_length=4, max_length=20)
    name: str = Field(default="", max_length=100)
    version: str = Field(default="", max_length=40)


class EnrollOut(BaseModel):
    device_id: str
    device_secret: str
    store_id: int
    store_name: str


class ChannelIn(BaseModel):
    ok: bool
    detail: str = Field(default="", max_length=200)


ChannelName = Annotated[str, Field(min_length=1, max_length=40)]


class HeartbeatIn(BaseModel):
    channel_ok: bool = Field(default=False, description="every channel healthy (one flag)")
    channels: dict[ChannelName, ChannelIn] | None = Field(
        default=None, max_length=16,
        description='health per channel, e.g. {"wechat": {"ok": false, "detail": "未登录"},'
                    ' "web": {"ok": true}}: WeChat scans need "wechat" (or "wecom") ok, web'
                    ' scans "web" ok and a web_chat_url; omit to keep; a beat with channel_ok'
                    ' and without channels reports one flag for all channels again')
    channel_detail: str = Field(default="", max_length=200)
    open_chats: int = Field(default=0, ge=0, le=1_000_000)
    friends_today: int = Field(default=0, ge=0, le=1_000_000)
    version: str = Field(default="", max_length=40)
    wechat_name: str = Field(default="", max_length=64)
    wechat_qr: str | None = Field(
        default=None, max_length=210_000,
        description="base64 PNG/JPEG of the device's WeChat QR; omit to keep, '' to clear",
    )
    web_chat_url: str = Field(default="", max_length=500)


class AlertIn(BaseModel):
    key: str = Field(min_length=1, max_length=80, description="the device's id for this alert; a retry repeats it")
    detail: str = Field(min_length=1, max_length=500)
    channel: str = Field(default="", max_length=40)
    at: float | None = Field(default=None, gt=0, description="when the device raised it (epoch s)")


class StoreIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    owner: str = Field(default="", max_length=100,
                       description="groups one owner's stores: their devices see each other's alerts")
    fallback_contact: str = Field(default="", max_length=200)
    daily_cap: int = Field(default=100, ge=0, le=100_000)


class EnrollmentCodeIn(BaseModel):
    minutes: float = Field(default=10, gt=0, le=24 * 60)


class MintIn(BaseModel):
    store_id: DbId | None = Field(default=None, description="required for admin; a device mints for its own store")
    channel: str = Field(default="default", max_length=40)
    target: Literal["any", "wechat", "web"] = Field(
        default="any", description="what its scans need: a working WeChat (the landing page),"
                                   " a working web chat (a redirect), or either")
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


class Caller(BaseModel):
    admin: bool
    device_id: str | None = None
    store_id: int | None = None


# -- the app -----------------------------------------------------------------------------------


def create_app(service: SyncService) -> FastAPI:
    cfg = service.config
    app = FastAPI(
        title="alpha01 sync server",
        version=__version__,
        description="Stores, enrolled store PCs and signed store QR live codes.",
        docs_url=None, redoc_url=None,
        openapi_url="/openapi.json" if cfg.docs else None,
    )
    if cfg.docs:
        docs.mount(app)
    scans = ScanHandler(service)
    service.start_checkpointer()
    service.start_writer()
    enroll_burst = max(1.0, cfg.enroll_ip_per_min / 2)
    bad_token_body = pages.BAD_TOKEN_HTML.encode("utf-8")

    trusted = frozenset(cfg.trusted_proxies)

    def client_key(request: Request) -> str:
        return client_address(request.scope, trusted)

    def too_many(wait: float) -> Response:
        return JSONResponse(
            {"detail": "too many requests"}, status_code=429,
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )

    @app.exception_handler(ServiceError)
    @app.exception_handler(InvalidText)
    async def _service_error(request: Request, exc: Exception):
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status", 400))

    def caller(authorization: Annotated[str | None, Header()] = None) -> Caller:
        scheme, _, cred = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and cred:
            if cred.startswith("adm_") and service.admin_ok(cred):
                return Caller(admin=True)
            device_id, dot, secret = cred.partition(".")
            if dot and device_id.startswith("dev_"):
                device = service.authenticate_device(device_id, secret)
                if device:
                    return Caller(admin=False, device_id=device["id"], store_id=device["store_id"])
        raise _Unauthorized()

    def admin(c: Annotated[Caller, Depends(caller)]) -> Caller:
        if not c.admin:
            raise Forbidden("admin only")
        return c

    def device(c: Annotated[Caller, Depends(caller)]) -> Caller:
        if c.device_id is None:
            raise Forbidden("device only")
        return c

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and (request.url.path + "/").startswith("/q/"):
            return HTMLResponse(bad_token_body, status_code=404, headers=pages.PAGE_HEADERS)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(_Unauthorized)
    async def _unauthorized(request: Request, exc: Exception):
        return JSONResponse({"detail": "unauthorized"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.get("/health", tags=["meta"])
    async def health() -> dict:
        """Liveness and a database round trip."""
        service.conn.execute("SELECT 1").fetchone()
        return {"ok": True, "version": __version__}

    @app.post("/api/v1/enroll", tags=["devices"], response_model=EnrollOut)
    async def enroll(body: EnrollIn, request: Request):
        """Spend a single-use enrollment code: the device gets its id and secret (shown once)."""
        wait = service.take("enroll:" + client_key(request), cfg.enroll_ip_per_min, enroll_burst)
        if wait:
            return too_many(wait)
        return service.enroll(body.code, body.name, body.version)

    @app.post("/api/v1/heartbeat", tags=["devices"])
    async def heartbeat(body: HeartbeatIn, c: Annotated[Caller, Depends(device)]) -> dict:
        """A device reports its status; it counts as online while its heartbeats are fresh.
        Fields left out keep their stored values."""
        return service.heartbeat(c.device_id, body.model_dump(exclude_unset=True))

    @app.post("/api/v1/alerts", tags=["devices"], status_code=201)
    async def add_alert(body: AlertIn, c: Annotated[Caller, Depends(device)]) -> dict:
        """A device reports an alert (WeChat logged out, its UI changed, sends failing ...)."""
        return service.add_alert(c.device_id, c.store_id, body.model_dump())

    @app.get("/api/v1/me", tags=["devices"])
    async def me(c: Annotated[Caller, Depends(device)]) -> dict:
        """The calling device as the server sees it."""
        found = [d for d in service.list_devices(c.store_id) if d["id"] == c.device_id]
        return found[0]

    @app.get("/api/v1/me/alerts", tags=["devices"])
    async def my_alerts(c: Annotated[Caller, Depends(device)],
                        limit: Annotated[int, Query(ge=1, le=MAX_DEVICE_ALERTS)] = 20
                        ) -> list[dict]:
        """The alerts of the calling device's owner: of every store with its store's `owner`
        (only its own store when that has none), as GET /api/v1/alerts gives them to the
        admin: the conditions of now first, then what the devices posted, newest first; at
        most `limit` in all."""
        return service.alerts(service.owner_stores(c.store_id), limit)[:limit]

    @app.get("/api/v1/bindings/{code}", tags=["devices"])
    async def binding(code: str, c: Annotated[Caller, Depends(device)]) -> dict:
        """Which scan (store, channel, time) a binding code from a friend request came from."""
        found = service.resolve_binding(c.store_id, code[:12])
        if found is None:
            return JSONResponse({"detail": "unknown binding code"}, status_code=404)
        return found

    @app.get("/api/v1/stores", tags=["admin"])
    async def stores(_: Annotated[Caller, Depends(admin)]) -> list[dict]:
        """Every store with its device count and how many are online."""
        return service.list_stores()

    @app.post("/api/v1/stores", tags=["admin"], status_code=201)
    async def add_store(body: StoreIn, _: Annotated[Caller, Depends(admin)]) -> dict:
        return service.add_store(body.name, body.fallback_contact, body.daily_cap, body.owner)

    @app.post("/api/v1/stores/{store_id}/enrollment-codes", tags=["admin"], status_code=201)
    async def enrollment_code(
        store_id: Annotated[int, Path(ge=0, le=2**63 - 1)], body: EnrollmentCodeIn, _: Annotated[Caller, Depends(admin)]
    ) -> dict:
        code, expires = service.create_enrollment_code(store_id, body.minutes)
        return {"code": code, "store_id": store_id, "expires_at": int(expires)}

    @app.get("/api/v1/stats", tags=["admin"])
    async def stats(_: Annotated[Caller, Depends(admin)], store_id: DbId | None = None,
                    hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0) -> dict:
        """Scans by store, device and outcome over the last `hours`; devices online and their
        channel health."""
        return service.stats(store_id, since=service.clock() - hours * 3600)

    @app.get("/api/v1/alerts", tags=["admin"])
    async def alerts(_: Annotated[Caller, Depends(admin)], store_id: DbId | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        """What needs the owner now: a device offline, a channel (WeChat) down, a daily cap
        reached, a store whose customers all get the fallback page; then the alerts devices
        posted (kind device_alert), newest first, at most `limit` of those."""
        return service.alerts(store_id, limit)

    @app.get("/api/v1/devices", tags=["admin"])
    async def devices(_: Annotated[Caller, Depends(admin)],
                      store_id: DbId | None = None) -> list[dict]:
        """Devices with their last status and online state."""
        return service.list_devices(store_id)

    @app.post("/api/v1/qr", tags=["qr"], status_code=201)
    async def mint(body: MintIn, request: Request, c: Annotated[Caller, Depends(caller)]) -> dict:
        """Mint a store QR token (admin: any store; device: its own store only)."""
        store_id = body.store_id
        if not c.admin:
            if store_id is not None and store_id != c.store_id:
                raise Forbidden("a device can mint only for its own store")
            store_id = c.store_id
        elif store_id is None:
            raise ServiceError("store_id is required")
        expires = body.expires_in_days * 86400 if body.expires_in_days else None
        minted = service.mint(store_id, body.channel, expires,
                              created_by="admin" if c.admin else c.device_id, target=body.target)
        base = cfg.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        minted["path"] = f"/q/{minted['token']}"
        minted["url"] = base + minted["path"]
        return minted

    @app.post("/api/v1/qr/{jti}/revoke", tags=["qr"])
    async def revoke(jti: str, c: Annotated[Caller, Depends(caller)]) -> dict:
        """Revoke a QR token by its id (a device only its own store's)."""
        service.revoke(jti, store_id=None if c.admin else c.store_id)
        return {"revoked": jti}

    @app.get("/q/{token:anytext}", tags=["qr"], response_class=HTMLResponse)
    async def scan(token: str, request: Request):
        """A customer scanned a store QR code: the landing page, a redirect or a fallback page.

        Every token that is not accepted gets the same 404 page, whatever the reason.
        """
        status, headers, body = await scans.respond(token, client_key(request),
                                                    request.headers.get("cookie", ""))
        return Response(body, status_code=status,
                        headers={k.decode(): v.decode() for k, v in headers})

    @app.get("/img/{sha}", tags=["qr"], include_in_schema=False)
    async def image(sha: str):
        found = service.image(sha[:64]) if len(sha) == 64 else None
        if found is None:
            return Response(status_code=404)
        data, mime = found
        return Response(data, media_type=mime, headers={
            "Cache-Control": "public, max-age=86400, immutable",
            "X-Content-Type-Options": "nosniff"})

    app.add_middleware(JsonGuard, max_bytes=cfg.max_body_bytes)  # before any route's work
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    app.add_middleware(ScanFastPath, handler=scans, trusted=trusted)  # the hot path skips the rest
    app.add_middleware(SecurityHeaders, headers=HEADERS)  # outermost: every response, the fast path's too
    app.state.scans, app.state.trusted = scans, trusted
    return app


def create_asgi(service: SyncService) -> Any:
    """What uvicorn serves: `create_app`'s FastAPI app behind a front door that hands GET /q/…
    to the scan handler (with the same security headers) before FastAPI's own outer layers
    (error handling, its body limit, telemetry checks) run. The FastAPI app answers the same
    way for /q through its own ScanFastPath; this only skips work on the hot path (the scan
    handler's responses carry the security headers themselves)."""
    app = create_app(service)
    # the same ScanFastPath as inside, in front of everything: its responses carry the
    # security headers already (scan._complete), everything else gets the app's own
    return ScanFastPath(app, handler=app.state.scans, trusted=app.state.trusted)


class _Unauthorized(Exception):
    pass
