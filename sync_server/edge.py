"""What every response carries and who the client is: security headers, trusted proxies.

`HEADERS` go on every response the app sends (API, scan pages, 404s, /docs) through the
shared alpha01.asgiheaders middleware. `client_address` believes
X-Forwarded-For only when the direct peer is one of the configured trusted proxies; by default
none is trusted, whatever the peer (loopback included).
"""

from __future__ import annotations

CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


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
