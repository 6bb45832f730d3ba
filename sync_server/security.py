"""Secrets, their hashes, and the signed QR tokens.

Admin tokens, device secrets and enrollment codes are random, so a single SHA-256 is enough to
store them (a slow password hash protects low-entropy passwords, which these are not). Every
comparison of a presented secret goes through `hmac.compare_digest`.

QR tokens are signed with itsdangerous (HMAC-SHA256) under a key id: `<kid>.<payload>.<sig>`.
Several keys may verify; the newest signs. The payload carries only the store, the token id (for
the revocation check) and the optional expiry, which keeps the printed QR code small.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TOKEN_SALT = "alpha01.qr.v1"
MAX_TOKEN_CHARS = 200
_KID = re.compile(r"^k[0-9]{1,6}$")


class BadToken(Exception):
    """Any reason a QR token is not accepted. The reason is for logs, never for the client."""


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(presented: str, stored_hash: str | None) -> bool:
    """Constant-time check of a presented secret against a stored hash."""
    if not stored_hash:
        # Still spend the same work so a missing record is not faster than a wrong secret.
        hmac.compare_digest(hash_secret(presented), "0" * 64)
        return False
    return hmac.compare_digest(hash_secret(presented), stored_hash)


def new_code(length: int) -> str:
    n = secrets.randbelow(len(CODE_ALPHABET) ** length)  # one draw, then base-31 digits
    out = []
    for _ in range(length):
        n, digit = divmod(n, len(CODE_ALPHABET))
        out.append(CODE_ALPHABET[digit])
    return "".join(out)


def new_enrollment_code() -> str:
    """Eight characters (about 40 bits), shown as XXXX-XXXX; single use and short-lived."""
    raw = new_code(8)
    return f"{raw[:4]}-{raw[4:]}"


def normalize_enrollment_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def new_binding_code() -> str:
    return new_code(6)


@dataclass(frozen=True)
class Claims:
    store_id: int
    jti: str
    expires_at: float | None
    kid: str


class TokenKeys:
    """The signing keys: all of them verify, the newest (last) signs.

    Serializer objects are built once per key and reused; verification is pure CPU.
    """

    def __init__(self, keys: Mapping[str, str]):
        if not keys:
            raise ValueError("no signing key: run `python -m sync_server init` first")
        for kid in keys:
            if not _KID.match(kid):
                raise ValueError(f"bad key id {kid!r}")
        self._serializers = {
            kid: URLSafeSerializer(
                secret, salt=TOKEN_SALT, signer_kwargs={"digest_method": hashlib.sha256}
            )
            for kid, secret in keys.items()
        }
        self.newest = max(keys, key=lambda k: int(k[1:]))
        self._verified: dict[str, Claims] = {}

    def __contains__(self, kid: str) -> bool:
        return kid in self._serializers

    def sign(self, store_id: int, jti: str, expires_at: float | None) -> str:
        payload: dict = {"s": store_id, "j": jti}
        if expires_at is not None:
            payload["x"] = int(expires_at)
        return f"{self.newest}.{self._serializers[self.newest].dumps(payload)}"

    def verify(self, token: str, now: float) -> Claims:
        """The claims of a well-signed, unexpired token, or BadToken. Never anything else.

        A token that verified once is remembered (bounded) by this key set, so a busy poster's
        token is not HMAC-checked on every scan; its expiry still is. A new key set (rotation,
        retirement) starts with an empty memory."""
        known = self._verified.get(token) if isinstance(token, str) else None
        if known is not None:
            if known.expires_at is not None and known.expires_at <= now:
                raise BadToken("expired")
            return known
        claims = self._verify(token, now)
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _verify(self, token: str, now: float) -> Claims:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise BadToken("shape")
        kid, dot, rest = token.partition(".")
        serializer = self._serializers.get(kid)
        if not dot or serializer is None:
            raise BadToken("unknown key id")
        try:
            payload = serializer.loads(rest)
        except (BadData, ValueError, TypeError, UnicodeError) as exc:
            raise BadToken("signature") from exc
        if not isinstance(payload, dict):
            raise BadToken("payload")
        store_id, jti, exp = payload.get("s"), payload.get("j"), payload.get("x")
        if type(store_id) is not int or not isinstance(jti, str) or not jti:
            raise BadToken("payload")
        if exp is not None and (type(exp) is not int or exp <= now):
            raise BadToken("expired")
        return Claims(store_id, jti, float(exp) if exp is not None else None, kid)


def new_jti() -> str:
    return secrets.token_urlsafe(9)


def new_key_secret() -> str:
    return secrets.token_urlsafe(32)
