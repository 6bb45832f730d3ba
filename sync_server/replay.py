"""Scan replays: one scanner's repeated scans of one token count once toward a device's cap.

A scanner is named by a signed cookie (`a01scan`, given with the first answer) or, without
one, by its address. An answer that claimed a device slot is remembered per (scanner, token)
for a window, and a repeat inside the window gets the same answer (same device, same binding
code) without touching the database, so replaying one valid token cannot drain a store's daily
cap. The table is bounded, oldest first out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

COOKIE = "a01scan"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class ReplayCache:
    def __init__(self, *, window_s: float = 600.0, cookie_window_s: float = 86_400.0,
                 max_entries: int = 100_000, secret: bytes | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self.cookie_window_s = cookie_window_s
        self.max_entries = max_entries
        self.secret = secret or secrets.token_bytes(32)
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], tuple[float, Answer]] = OrderedDict()

    # -- the scanner's cookie -----------------------------------------------------------------

    def _mac(self, scanner: str) -> str:
        return hmac.new(self.secret, scanner.encode(), hashlib.sha256).hexdigest()[:24]

    def new_cookie(self) -> tuple[str, bytes]:
        """A fresh scanner id and the Set-Cookie header value that carries it."""
        scanner = secrets.token_urlsafe(12)
        value = f"{COOKIE}={scanner}.{self._mac(scanner)}; Max-Age={int(self.cookie_window_s)};" \
                " Path=/q/; HttpOnly; SameSite=Lax"
        return scanner, value.encode()

    def scanner_of(self, cookie_header: str) -> str | None:
        """The scanner id of a valid cookie in a Cookie header, else None."""
        for part in cookie_header.split(";")[:50]:
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                scanner, _, mac = value.partition(".")
                if scanner and len(scanner) <= 32 and hmac.compare_digest(
                        mac.encode(), self._mac(scanner).encode()):
                    return scanner
        return None

    # -- remembered answers -------------------------------------------------------------------

    def get(self, keys: list[tuple[str, str]]) -> Answer | None:
        now = self.clock()
        for key in keys:
            found = self._seen.get(key)
            if found is None:
                continue
            until, answer = found
            if until > now:
                return answer
            del self._seen[key]
        return None

    def put(self, key: tuple[str, str], answer: Answer, *, cookie: bool) -> None:
        self._seen[key] = (self.clock() + (self.cookie_window_s if cookie else self.window_s),
                           answer)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
