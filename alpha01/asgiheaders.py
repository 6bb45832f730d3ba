"""Headers on every response of an ASGI app, 404s and errors included (both HTTP servers use
it: the sync server and the web chat). A header a route set itself is kept. Standard library
only."""

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
