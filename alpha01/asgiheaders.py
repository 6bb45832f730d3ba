"""Headers on every response of an ASGI app, 404s and errors included, and who the client
is behind configured proxies. Both HTTP servers use it: the sync server and the web chat. A
header a route set itself is kept. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SecurityHeaders:
    def __init__(self, app: Any, headers: Mapping[str, str]):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def client_address(scope: Mapping[str, Any], trusted: frozenset[str]) -> str:
    """The client's address: the direct peer, or, when the peer is one of the `trusted`
    proxies, the nearest X-Forwarded-For hop that is not itself a trusted proxy. Nothing is
    trusted by default: X-Forwarded-For from any other peer (loopback included) is ignored."""
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
