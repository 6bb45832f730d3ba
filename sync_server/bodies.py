"""Request bodies and numbers a stranger can send: checked before any route does work.

`JsonGuard` parses every JSON body with the shared parser (alpha01.safejson: size, depth,
finite numbers, 64-bit integers) before FastAPI routing, validation, authentication or rate
limits run, and answers a refused body with 400/413 and a JSON reason instead of a 500. The
body is then handed on unchanged. `DbId` is the type of every integer that reaches SQLite from a
path, a query or a body.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field

from alpha01.safejson import INT_MAX, BadBody, loads

DbId = Annotated[int, Field(ge=0, le=INT_MAX)]

_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind or kind == "application/json" or kind.endswith("+json")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class JsonGuard:
    """Pure ASGI middleware: refuse unparseable, too deep or non-finite JSON bodies."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            return await self.app(scope, receive, send)
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        if not _is_json(content_type):
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await reply(send, 413, "request body too large")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body:
            try:
                value = loads(body, max_bytes=self.max_bytes)
            except BadBody as exc:
                return await reply(send, exc.status, exc.message)
            if b"\\u0000" in body and _has_nul(value):  # PostgreSQL cannot store it: refuse on both
                return await reply(send, 400, "text must not contain NUL (\\u0000) characters")
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
