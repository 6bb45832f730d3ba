"""Scan replays: one scanner's repeated scans of one token count once toward a device's cap.

A scanner is named by a signed cookie (`a01scan`, given with the first answer) or, without
one, by its address. An answer that claimed a device slot is remembered per (scanner, token)
for a window, and a repeat inside the window gets the same answer (same device, same binding
code) without claiming another slot, so replaying one valid token cannot drain a store's daily
cap. The memory is the database's `scan_replays` table (SyncService.scan_batch), shared by
every server process and instance; the cookie's key is a secret they share too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets

COOKIE = "a01scan"


def replay_key(scanner: str, token: str) -> str:
    """The memory's key for a scanner ("c:<cookie id>" or "a:<address>") and a token."""
    return f"{scanner}|{token_digest(token)}"


_digests: dict[str, str] = {}


def token_digest(token: str) -> str:
    """A token's short digest, as memory and rate-limit keys carry it (remembered for the
    few tokens a busy poster sends over and over; bounded)."""
    found = _digests.get(token)
    if found is None:
        found = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
        if len(_digests) >= 4096:
            _digests.clear()
        _digests[token] = found
    return found


class ScannerCookie:
    def __init__(self, secret: bytes, max_age_s: float = 86_400.0):
        self.secret = secret
        self.max_age_s = max_age_s
        # Scanner ids: HMAC of a per-process random seed and a counter (unique, unguessable,
        # and no system call per scan: os.urandom is slow on some virtual machines).
        self._seed = secrets.token_bytes(32)
        self._counter = itertools.count()

    def _mac(self, scanner: str) -> str:
        return hmac.new(self.secret, scanner.encode(), hashlib.sha256).hexdigest()[:24]

    def new(self) -> tuple[str, bytes]:
        """A fresh scanner id and the Set-Cookie header value that carries it."""
        scanner = self.new_id()
        return scanner, self.header(scanner)

    def new_id(self) -> str:
        """A fresh scanner id (what a cookie given with an answer will carry)."""
        raw = hmac.new(self._seed, str(next(self._counter)).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(raw[:12]).decode()

    def header(self, scanner: str) -> bytes:
        """The Set-Cookie header value that carries `scanner`, signed."""
        value = f"{COOKIE}={scanner}.{self._mac(scanner)}; Max-Age={int(self.max_age_s)};" \
                " Path=/q/; HttpOnly; SameSite=Lax"
        return value.encode()

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
