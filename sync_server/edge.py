"""What every response carries and who the client is: security headers, trusted proxies.

`SecurityHeaders` is pure ASGI middleware that adds the headers to every response the app sends
(API, scan pages, 404s, /docs), keeping any a route set itself. `client_address` believes
X-Forwarded-For only when the direct peer is one of the configured trusted proxies; by default
none is trusted, whatever the peer (loopback included).
"""

from __future__ import annotations

from typing import Any

CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
}


class SecurityHeaders:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def client_address(scope: dict, trusted: frozenset[str]) -> str:
    """The client's address: the peer, or the nearest untrusted X-Forwarded-For hop when the
    peer is a configured trusted proxy."""
    peer = scope.get("client")
    host = peer[0] if peer else "?"
    if host not in trusted:
        return host
    forwarded = b",".join(v for k, v in scope.get("headers", []) if k == b"x-forwarded-for")
    for hop in reversed(forwarded.decode("latin-1").split(",")):
        hop = hop.strip()[:64]
        if hop and hop not in trusted:
            return hop
    return host
