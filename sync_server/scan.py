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
from .edge import HEADERS
from .ratelimit import RateLimiter
from .replay import ScannerCookie, token_digest
from .security import BadToken
from .service import ScanAsk, ScanResult, SyncService

log = logging.getLogger("sync_server")

Headers = list[tuple[bytes, bytes]]

_HTML = [(b"content-type", b"text/html; charset=utf-8")] + [
    (k.lower().encode(), v.encode()) for k, v in pages.PAGE_HEADERS.items()
]
_EDGE = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]


def _complete(status: int, headers: Headers, body: bytes) -> tuple[int, Headers, bytes]:
    """A response as it goes out: its own headers, the security headers every response
    carries (those it did not set itself, as alpha01.asgiheaders.SecurityHeaders adds them)
    and its length. Made once per distinct answer, so the hot path only sends it."""
    present = {k for k, _ in headers}
    return status, [*headers, *(h for h in _EDGE if h[0] not in present),
                    (b"content-length", str(len(body)).encode())], body


_BAD = _complete(404, _HTML, pages.BAD_TOKEN_HTML.encode("utf-8"))
_BUSY = _complete(503, [*_HTML, (b"retry-after", b"2")], pages.BUSY_HTML.encode("utf-8"))
_TOO_MANY_BODY = b'{"detail":"too many requests"}'


class ScanHandler:
    """Rate limits (per address, per token), the replay memory and routing: all in the
    database, in one batched transaction on the writer thread, so several server processes
    or instances enforce them together."""

    def __init__(self, service: SyncService):
        cfg = service.config
        self.service = service
        self.ip_rate = (cfg.scan_ip_per_min / 60.0, max(1.0, cfg.scan_ip_per_min / 2))
        self.token_rate = (cfg.scan_token_per_min / 60.0, max(1.0, cfg.scan_token_per_min / 2))
        self.window_s = cfg.scan_replay_window_s
        self.cookies = ScannerCookie(service.shared_secret("scanner-cookie"))
        self._rendered: dict[tuple, tuple[int, Headers, bytes]] = {}

    async def respond(self, token: str, client: str, cookie: str = ""
                      ) -> tuple[int, Headers, bytes]:
        """Status, headers and body for a scan of `token` from address `client` with the
        request's Cookie header `cookie`."""
        digest = token_digest(token[:256])
        try:
            claims = self.service.verify(token, self.service.clock())
        except BadToken:
            claims = None  # still spends the limits: guessing costs what scanning does
        scanner = self.cookies.scanner_of(cookie) if cookie else None
        by_address = f"a:{client}|{digest}"
        limits = [("ip:" + client, *self.ip_rate), ("tok:" + digest, *self.token_rate)]
        if claims is None:
            ask = ScanAsk(None, limits)
        elif scanner is None:
            # The scanner's cookie is made only if this scan claims a slot (see new_scanner).
            def new_scanner() -> tuple[str, str, float]:
                fresh = self.cookies.new_id()
                return fresh, f"c:{fresh}|{digest}", self.cookies.max_age_s

            ask = ScanAsk(claims, limits, replay=[by_address],
                          remember=[(by_address, self.window_s)], new_scanner=new_scanner)
        else:
            by_cookie = f"c:{scanner}|{digest}"
            ask = ScanAsk(claims, limits, replay=[by_cookie, by_address],
                          remember=[(by_cookie, self.cookies.max_age_s),
                                    (by_address, self.window_s)])
        try:
            outcome = await self.service.scan_async(ask)
        except Exception:
            # A server-side problem (e.g. the database unreachable), not the token's.
            log.exception("scan failed")
            return _BUSY
        if outcome.wait:
            return self._cached(("429", RateLimiter.retry_after(outcome.wait)), lambda: _complete(
                429, [(b"content-type", b"application/json"),
                      (b"retry-after", RateLimiter.retry_after(outcome.wait).encode())],
                _TOO_MANY_BODY))
        result = outcome.result
        if result is None:
            return _BAD
        if result.kind == "fallback":  # claimed no slot: nothing to replay
            return self._cached(("fallback", result.store_name, result.fallback_contact),
                                lambda: _complete(200, _HTML,
                                                  pages.fallback(result).encode("utf-8")))
        answer = self._answer(result)
        if outcome.new_scanner is None:
            return answer
        return answer[0], [*answer[1], (b"set-cookie", self.cookies.header(outcome.new_scanner))], \
            answer[2]

    def _answer(self, result: ScanResult) -> tuple[int, Headers, bytes]:
        """The page (or redirect) for a routed scan; replays of one answer are rendered once."""
        key = (result.kind, result.store_name, result.wechat_name, result.qr_sha,
               result.binding_code, result.redirect_url)
        if result.kind == "redirect":
            return self._cached(key, lambda: _complete(
                302, [(b"location", result.redirect_url.encode()),
                      (b"cache-control", b"no-store")], b""))
        return self._cached(key, lambda: _complete(200, _HTML,
                                                   pages.landing(result).encode("utf-8")))

    def _cached(self, key: tuple, make: Callable[[], tuple[int, Headers, bytes]]
                ) -> tuple[int, Headers, bytes]:
        found = self._rendered.get(key)
        if found is None:
            found = make()
            if len(self._rendered) >= 1024:
                self._rendered.clear()
            self._rendered[key] = found
        return found

    @staticmethod
    def bad_token() -> tuple[int, Headers, bytes]:
        return _BAD


class ScanFastPath:
    """ASGI middleware: GET /q/… goes straight to ScanHandler, everything else passes on.
    The handler's responses are complete (security headers and length included)."""

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
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
