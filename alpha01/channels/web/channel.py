"""WebChannel: customers chat with the shop in a browser page served by this PC.

A store QR code (minted by the sync server, or printed locally with `alpha01 qr --web`) opens
the page; each browser session is one customer (a signed cookie names it). Messages carry the
page's own ids, so intake dedupes them durably; replies come back through the engine's outbox
like any other channel's, so the TUI shows web chats and the merchant can take them over.

Exposure: the server binds 127.0.0.1 unless `web.host` says otherwise, and any other host needs
`web.access_token`, which the QR link carries (`?t=`). Starlette and uvicorn (the `server`
extra) are imported only when the channel starts.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import math
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ...clitext import t
from ...config import Settings, WebSettings
from ...domain import Inbound, Outbound
from ...errors import ChannelUnavailable, ConfigError
from ..base import Capability, Channel, ChannelHealth, Records
from .hub import Hub

log = logging.getLogger("alpha01.web")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def weak_token(token: str) -> bool:
    """An access token a stranger could guess: short, few distinct characters (one letter
    repeated, "abab…"), or under 64 bits by its own character frequencies."""
    if len(token) < 16 or len(set(token)) < 8:
        return True
    counts = collections.Counter(token)
    bits = -sum(n * math.log2(n / len(token)) for n in counts.values())
    return bits < 64


def check_exposure(web: WebSettings) -> None:
    """Refuse a listening address beyond this PC without an access token, and a weak token
    anywhere."""
    if web.access_token and weak_token(web.access_token):
        raise ConfigError(t("web.weak_token"))
    if not is_loopback(web.host) and len(web.access_token) < 16:
        raise ConfigError(
            f"web.host = {web.host!r} opens the chat page to the network: set web.access_token "
            "(at least 16 random characters) in settings.toml so only people with the store's "
            "QR link (`alpha01 qr --web`) can use it")


def chat_url(web: WebSettings, port: int | None = None) -> str:
    """The address a customer opens: the public URL when set, else this PC's own address;
    with the access token when there is one."""
    base = web.public_url.strip()
    if not base:
        host = web.host
        if host in ("0.0.0.0", "::", ""):
            host = _lan_address()
        if ":" in host:
            host = f"[{host}]"
        base = f"http://{host}:{port if port is not None else web.port}/"
    if not base.endswith("/") and "?" not in base:
        base += "/"
    if web.access_token:
        base += ("&" if "?" in base else "?") + urlencode({"t": web.access_token})
    return base


def _lan_address() -> str:
    """This PC's address on the shop's network, from the host name (no packet is sent)."""
    try:
        addr = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    return addr


class WebChannel(Channel):
    name = "web"
    paced = False  # the shop's own page: no account to get banned, no human-speed pacing
    stable_ids = True

    capabilities = frozenset({Capability.WAKE})

    def __init__(self, settings: Settings | None = None, *, paths: Any = None,
                 secret: bytes | None = None, name: str = "web",
                 history: Callable[[str], list[tuple[str, str]]] | None = None,
                 records: Records | None = None, **_: object) -> None:
        """`records`: the home's earlier turns of a chat (the composition root passes them);
        `history`: any other source of them (tests)."""
        self.settings = settings or Settings()
        self.web = self.settings.web
        check_exposure(self.web)
        self.name = name
        self.paths = paths
        self._secret = secret
        self.records = records
        seed = history or (self._history if records is not None else None)
        self.hub = Hub(self.name, history_items=self.web.history_items, seed=seed)
        self.server: Any = None

    # -- wiring -------------------------------------------------------------------------------

    def set_wake(self, wake: Callable[[], None]) -> None:
        """The engine's hook to poll again at once when a customer has written."""
        self.hub.wake = wake

    @property
    def chat_url(self) -> str:
        """What the heartbeat advertises (empty while the server is not running)."""
        if self.server is None or not self.server.alive():
            return ""
        return chat_url(self.web, self.server.port)

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    # -- Channel ------------------------------------------------------------------------------

    def start(self) -> None:
        if self.server is not None:
            return
        try:
            from .server import ChatServer
        except ImportError as exc:
            raise ChannelUnavailable(
                f"the web chat needs the server extra (pip install 'alpha01[server]'): {exc}"
            ) from exc
        self.server = ChatServer(self.hub, self.web, secret=self._cookie_secret(),
                                 shop_name=self.settings.shop.name)
        try:
            self.server.start()
        except Exception:
            self.server = None
            raise
        log.info("web chat listening on %s", chat_url(self.web, self.server.port))

    def poll(self) -> list[Inbound]:
        return self.hub.drain()

    def send(self, out: Outbound) -> None:
        if self.server is None:
            raise ChannelUnavailable("web chat server is not running")
        self.hub.deliver(out)

    def confirm_sent(self, out: Outbound) -> bool | None:
        # Sending again is harmless here: the page shows each reply id once.
        return self.hub.delivered(out.chat, out.id) or False

    def health(self) -> ChannelHealth:
        alive = self.server is not None and self.server.alive()
        return ChannelHealth(ok=alive, detail="" if alive else "web chat server is not running",
                             extra={"url": self.chat_url, "streams": self.hub.streams})

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.records is not None:
            self.records.close()

    # -- helpers ------------------------------------------------------------------------------

    def _cookie_secret(self) -> bytes:
        """Signs the session cookies. Kept in the home directory so a restart keeps sessions."""
        if self._secret:
            return self._secret
        if self.web.cookie_secret:
            return self.web.cookie_secret.encode()
        if self.paths is None:
            return secrets.token_bytes(32)
        path = Path(self.paths.home) / "web_secret"
        try:
            data = path.read_bytes().strip()
            if len(data) >= 32:
                return data
        except OSError:
            pass
        data = secrets.token_hex(32).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        try:
            tmp.chmod(0o600)
        except OSError:
            pass
        tmp.replace(path)
        return data

    def _history(self, chat: str) -> list[tuple[str, ...]]:
        """Earlier turns of this chat, from the home's records."""
        assert self.records is not None
        return self.records.history(chat, self.web.history_items)
