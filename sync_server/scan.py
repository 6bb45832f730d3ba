"""GET /q/{token}: the one hot path, answered by a lean ASGI handler.

A store QR code is printed on posters and scanned by customers, so this path takes the load.
It is served before FastAPI's routing and validation (the FastAPI route with the same
behaviour remains for the OpenAPI docs and for methods other than GET). Everything a response
needs is decided in `respond`, which both entries share.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from alpha01.asgiheaders import client_address

from . import pages
from .ratelimit import RateLimiter
from .replay import ReplayCache
from .security import BadToken
from .service import SyncService

log = logging.getLogger("sync_server")

Headers = list[tuple[bytes, bytes]]

_HTML = [(b"content-type", b"text/html; charset=utf-8")] + [
    (k.lower().encode(), v.encode()) for k, v in pages.PAGE_HEADERS.items()
]
_BAD = (404, _HTML, pages.BAD_TOKEN_HTML.encode("utf-8"))
_BUSY = (503, [*_HTML, (b"retry-after", b"2")], pages.BUSY_HTML.encode("utf-8"))


class ScanHandler:
    def __init__(self, service: SyncService):
        cfg = service.config
        self.service = service
        self.by_ip = RateLimiter(cfg.scan_ip_per_min)
        self.by_token = RateLimiter(cfg.scan_token_per_min)
        self.replays = ReplayCache(window_s=cfg.scan_replay_window_s)

    async def respond(self, token: str, client: str, cookie: str = ""
                      ) -> tuple[int, Headers, bytes]:
        """Status, headers and body for a scan of `token` from address `client` with the
        request's Cookie header `cookie`."""
        wait = self.by_ip.hit(client)
        if not wait:
            wait = self.by_token.hit(token[:256])
        if wait:
            return 429, [(b"content-type", b"application/json"),
                         (b"retry-after", RateLimiter.retry_after(wait).encode())], \
                b'{"detail":"too many requests"}'
        token_key = token[:256]
        scanner = self.replays.scanner_of(cookie) if cookie else None
        keys = [("a:" + client, token_key)]
        if scanner:
            keys.insert(0, ("c:" + scanner, token_key))
        again = self.replays.get(keys)
        if again is not None:
            try:
                return again if self.service.still_valid(token) else _BAD
            except Exception:
                log.exception("scan replay check failed")
                return _BUSY
        try:
            result = await self.service.scan_async(token)
        except BadToken:
            return _BAD
        except Exception:
            # A server-side problem (e.g. the database busy past its timeout), not the token's.
            log.exception("scan failed")
            return _BUSY
        if result.kind == "fallback":  # claimed no slot: nothing to replay
            return 200, _HTML, pages.fallback(result).encode("utf-8")
        set_cookie: list[tuple[bytes, bytes]] = []
        if scanner is None:
            scanner, value = self.replays.new_cookie()
            set_cookie = [(b"set-cookie", value)]
        if result.kind == "redirect":
            answer = (302, [(b"location", result.redirect_url.encode()),
                            (b"cache-control", b"no-store"), (b"content-length", b"0")], b"")
        else:
            answer = (200, _HTML, pages.landing(result).encode("utf-8"))
        # The same answer again for this scanner (by cookie) and this address, slot-free.
        self.replays.put(("c:" + scanner, token_key), answer, cookie=True)
        self.replays.put(keys[-1], answer, cookie=False)
        return answer[0], answer[1] + set_cookie, answer[2]

    @staticmethod
    def bad_token() -> tuple[int, Headers, bytes]:
        return _BAD


class ScanFastPath:
    """ASGI middleware: GET /q/… goes straight to ScanHandler, everything else passes on."""

    def __init__(self, app: Any, handler: ScanHandler, trusted: frozenset[str] = frozenset()):
        self.app = app
        self.handler = handler
        self.trusted = trusted

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/q/"):
            cookie = b"; ".join(v for k, v in scope["headers"] if k == b"cookie")
            status, headers, body = await self.handler.respond(
                scope["path"][3:], client_address(scope, self.trusted),
                cookie.decode("latin-1"))
            await send({"type": "http.response.start", "status": status,
                        "headers": [*headers, (b"content-length", str(len(body)).encode())]
                        if status != 302 else headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
