"""What every response carries and who the client is: security headers, trusted proxies.

`HEADERS` go on every response the app sends (API, scan pages, 404s, /docs) through the
shared alpha01.asgiheaders middleware. The client's address comes from
alpha01.asgiheaders.client_address (shared with the web chat): X-Forwarded-For only when the
direct peer is one of the configured trusted proxies (`serve --trusted-proxy`); by default none
is trusted, whatever the peer (loopback included).
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
