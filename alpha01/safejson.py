"""The one JSON body parser for both HTTP servers (the sync server and the web chat).

A stranger's request body is parsed here before any other work: size capped, nesting depth
capped (checked without recursion, so a deeply nested body cannot raise RecursionError), only
finite numbers (no NaN, Infinity or 1e999) and only integers that fit a signed 64-bit column
(SQLite's). Every refusal is a `BadBody` with an HTTP status and a short message; nothing here
raises anything else. Standard library only.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


class BadBody(ValueError):
    """A request body refused, with the HTTP status to answer and the reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _constant(name: str) -> Any:
    raise BadBody(400, f"not a finite number: {name}")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadBody(400, f"not a finite number: {text[:40]}")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # before int(): no 4300-digit conversion work
        raise BadBody(400, "integer out of range (64-bit)")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise BadBody(400, "integer out of range (64-bit)")
    return value


def depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (strings skipped), no recursion."""
    level = deepest = 0
    for m in _BRACKETS.finditer(_STRINGS.sub(b'""', body)):
        if m.group() in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def loads(body: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a request body or raise BadBody (413 too large, 400 anything else)."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw) > max_bytes:
        raise BadBody(413, "request body too large")
    if depth(raw) > max_depth:
        raise BadBody(400, f"JSON nested deeper than {max_depth}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(400, "body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except BadBody:
        raise
    except (ValueError, RecursionError):
        raise BadBody(400, "malformed JSON") from None
