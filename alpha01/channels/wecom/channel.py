"""WeComChannel: 微信客服, Tencent's official customer-service API, behind the Channel interface.

Reading: `kf/sync_msg` is a log with a cursor. The channel asks for it every `wecom.poll_s`
seconds, or at once after a callback said there is something new (`handle_callback`). The
cursor after a batch is saved in the home's database only on the next poll, once the engine has
committed that batch (the batch's msgids are checked in `messages`): a kill -9 at any moment
repeats at most one batch, which intake drops by msgid, and never skips one.

Sending: `kf/send_msg` with a msgid derived from the outbox row (`<home prefix>-<reply id>`), so
a retry after a lost answer is the same message, not a second one. The platform's reply window
(48 hours after the customer's last message, at most 5 messages) is declared in
`reply_window`; the engine's pacer applies it before every send.

Takeover: when the engine hands a chat to a human, or the owner takes it over, the chat's
session goes to a human agent (`kf/service_state/trans`: the configured servicer, else the
waiting pool), so the merchant answers in the WeCom app.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from ...config import Settings
from ...domain import Inbound, Outbound
from ...errors import ChannelUnavailable, ConfigError, SendFailed
from ..base import Capability, Channel, ChannelHealth, Records
from .client import (
    CURSOR_INVALID,
    ORIGIN_CUSTOMER,
    ORIGIN_SERVICER,
    SESSION_STATE,
    STATE_HUMAN,
    STATE_POOL,
    KfClient,
    WeComError,
)
from .crypto import CallbackCrypto, CallbackError

log = logging.getLogger("alpha01.wecom")

PAGES_PER_POLL = 5  # sync_msg pages read in one poll (1000 messages each at most)
MSGID_MAX = 32  # bytes, the API's limit for a send's msgid


def check_settings(settings: Settings) -> None:
    w = settings.wecom
    missing = [k for k in ("corp_id", "secret", "open_kfid") if not getattr(w, k)]
    if missing:
        raise ConfigError(
            f"微信客服还没配置好（缺少 wecom.{', wecom.'.join(missing)}）：运行 `alpha01 wecom setup`"
            f" (WeCom kf is not configured: missing {', '.join(missing)})")


class WeComChannel(Channel):
    name = "wecom"
    paced = False  # an official API: no account to get banned; its limit is the reply window
    stable_ids = True

    capabilities = frozenset({Capability.WAKE, Capability.ENGINE_EVENTS,
                              Capability.REPLY_WINDOW})

    def __init__(self, settings: Settings | None = None, *, records: Records | None = None,
                 client: KfClient | None = None, clock: Callable[[], float] = time.time,
                 name: str = "wecom", **_: object) -> None:
        """`records`: where the cursor is kept and intake's messages are looked up (the
        composition root passes the home's, storage/records.py)."""
        self.settings = settings or Settings()
        check_settings(self.settings)
        self.w = self.settings.wecom
        self.name = name
        self.clock = clock
        self.client = client or KfClient(self.w.corp_id, self.w.secret, base_url=self.w.base_url,
                                         timeout_s=self.w.timeout_s)
        #: (seconds, messages): the engine's pacer enforces it before each send
        self.reply_window = (self.w.window_hours * 3600.0, self.w.window_max)
        self.records = records
        self._started = False
        self._cursor = ""
        self._pending: tuple[str, list[Inbound]] | None = None  # next cursor, the batch it ends
        self._prefix = ""
        self._next_sync = 0.0
        self._callback_token = ""
        self._lock = threading.Lock()
        self._handovers: list[int] = []  # customer ids whose chat goes to a human
        self._wake: Callable[[], None] | None = None
        self._problem = ""
        self.syncs = 0

    # -- wiring ---------------------------------------------------------------------------------

    def set_wake(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def start(self) -> None:
        if self.records is None:
            raise ConfigError("微信客服渠道需要本店的数据库 (the WeCom channel needs the home's "
                              "records: build it with app.build_channel)")
        self._cursor = self.records.cursor(self.name)
        self._prefix = self.records.cursor(self.name + "#msgid")
        if not self._prefix:
            # per database: a home started afresh never reuses an old send's msgid
            self._prefix = secrets.token_hex(4)
            self.records.set_cursor(self.name + "#msgid", self._prefix, self.clock())
        self._started = True

    @property
    def cursor(self) -> str:
        return self._cursor

    def history_baseline(self) -> float | None:
        """What the service still keeps from before the first start is history; its send_time
        has whole seconds, so the second we start in is not history yet."""
        return float(int(self.clock()) - 1)

    # -- reading --------------------------------------------------------------------------------

    def poll(self) -> list[Inbound]:
        if not self._started:
            self.start()
        again = self._settle_pending()
        if again:
            return again
        self._hand_over()
        now = self.clock()
        if now < self._next_sync:
            return []
        self._next_sync = now + self.w.poll_s
        out: list[Inbound] = []
        cursor = self._cursor
        for _ in range(PAGES_PER_POLL):
            try:
                data = self.client.sync_msg(cursor=cursor, token=self._callback_token,
                                            open_kfid=self.w.open_kfid)
            except WeComError as exc:
                if exc.errcode == CURSOR_INVALID and not out:
                    # the service no longer knows where we were: read what it still keeps
                    # (about three days); intake drops by msgid what is already in.
                    log.warning("kf/sync_msg refused cursor %r: starting over", cursor)
                    self._save_cursor("")
                    self._next_sync = 0.0
                    return []
                if out:
                    break  # keep what was read; the next poll goes on from there
                self._problem = str(exc)
                raise ChannelUnavailable(f"微信客服接口暂不可用: {exc}") from exc
            self.syncs += 1
            self._callback_token = ""  # a callback token is good for one pull
            out.extend(self._inbound(m) for m in data.get("msg_list") or [] if self._wanted(m))
            cursor = str(data.get("next_cursor") or cursor)
            if not int(data.get("has_more") or 0):
                break
        else:
            self._next_sync = 0.0  # more is waiting: read on at the next poll
        self._problem = ""
        if cursor != self._cursor:
            if out:
                self._pending = (cursor, out)
            else:
                self._save_cursor(cursor)
        return out

    def _settle_pending(self) -> list[Inbound]:
        """The last batch is in the database: save its cursor. If it is not (the engine failed
        to store it), hand it out again instead of reading on."""
        if self._pending is None:
            return []
        cursor, batch = self._pending
        missing = [m for m in batch if not self.records.seen("h:" + str(m.key_hint))]
        if missing:
            return batch
        self._pending = None
        self._save_cursor(cursor)
        return []

    def _save_cursor(self, cursor: str) -> None:
        self.records.set_cursor(self.name, cursor, self.clock())
        self._cursor = cursor

    def _wanted(self, m: dict[str, Any]) -> bool:
        if self.w.open_kfid and m.get("open_kfid") not in (None, "", self.w.open_kfid):
            return False
        if m.get("origin") == ORIGIN_CUSTOMER:
            return True
        # a human agent typing in the WeCom app; our own API sends come back with our msgids
        return m.get("origin") == ORIGIN_SERVICER and not str(m.get("msgid", "")).startswith(
            self._prefix + "-")

    def _inbound(self, m: dict[str, Any]) -> Inbound:
        kind = str(m.get("msgtype") or "text")
        text = str((m.get("text") or {}).get("content", "")) if kind == "text" else f"[{kind}]"
        chat = str(m.get("external_userid", ""))
        mine = m.get("origin") == ORIGIN_SERVICER
        return Inbound(channel=self.name, chat=chat, sender="self" if mine else chat, text=text,
                       ts=float(m.get("send_time") or 0) or None, key_hint=str(m["msgid"]),
                       ui_id=str(m["msgid"]), is_self=mine, kind=kind,
                       extra={"open_kfid": m.get("open_kfid", "")})

    # -- sending --------------------------------------------------------------------------------

    def msgid(self, out: Outbound) -> str:
        return f"{self._prefix}-{out.id}"[:MSGID_MAX]

    def send(self, out: Outbound) -> None:
        if not self._started:
            self.start()
        try:
            self.client.send_text(out.chat, self.w.open_kfid, out.text, msgid=self.msgid(out))
        except WeComError as exc:
            if exc.errcode is None:
                if exc.sent_maybe:
                    raise  # the engine asks confirm_sent
                raise ChannelUnavailable(str(exc)) from exc
            if exc.retry_later:
                raise ChannelUnavailable(str(exc)) from exc
            if exc.errcode == SESSION_STATE:
                raise SendFailed("微信客服拒绝发送：客户超过 48 小时未发消息、已达 5 条上限，"
                                 f"或会话已由人工接待 ({exc})") from exc
            raise SendFailed(str(exc)) from exc

    def confirm_sent(self, out: Outbound) -> bool | None:
        """Send again with the same msgid: the service keeps one message per msgid, so this
        either finds the first one or sends it now, and never sends it twice."""
        try:
            self.send(out)
        except Exception as exc:  # unknown is the honest answer
            log.warning("confirming reply %s: %s", out.id, exc)
            return None
        return True

    # -- takeover -------------------------------------------------------------------------------

    def on_engine_event(self, kind: str, data: dict[str, Any]) -> None:
        """The engine's events (its thread, inside its transaction: only note, no network)."""
        cid = data.get("customer_id")
        if cid is None:
            return
        owned = kind == "takeover" or (
            kind == "decision" and data.get("action") == "handoff"
            and data.get("tier") != "fallback")
        if owned:
            with self._lock:
                self._handovers.append(int(cid))

    def _hand_over(self) -> None:
        with self._lock:
            todo, self._handovers = self._handovers, []
        for cid in dict.fromkeys(todo):
            chat = self.records.customer_chat(cid)
            if chat is None:
                continue
            state = STATE_HUMAN if self.w.servicer_userid else STATE_POOL
            try:
                self.client.trans_service_state(self.w.open_kfid, chat, state,
                                                self.w.servicer_userid)
                log.info("chat %s handed to %s", chat,
                         self.w.servicer_userid or "the waiting pool")
            except WeComError as exc:
                log.warning("kf/service_state/trans for %s failed: %s", chat, exc)
                if exc.retry_later:
                    with self._lock:
                        self._handovers.append(cid)

    # -- callbacks ------------------------------------------------------------------------------

    def crypto(self) -> CallbackCrypto:
        if not (self.w.token and self.w.encoding_aes_key):
            raise ConfigError("微信客服回调需要 wecom.token 与 wecom.encoding_aes_key "
                              "(the callback needs the Token and EncodingAESKey)")
        return CallbackCrypto(self.w.token, self.w.encoding_aes_key, self.w.corp_id)

    def handle_callback(self, query: dict[str, str], body: bytes = b"") -> str:
        """A request to the callback URL: the GET check (returns the echostr to answer) or a
        POST event (returns "success"; a kf_msg_or_event makes the next poll read at once).
        Raises CallbackError when it is not WeCom's, for this corp."""
        c = self.crypto()
        sig, ts, nonce = (query.get("msg_signature", ""), query.get("timestamp", ""),
                          query.get("nonce", ""))
        if "echostr" in query:
            return c.verify_url(sig, ts, nonce, query["echostr"])
        fields = c.open_callback(sig, ts, nonce, body)
        if fields.get("Event") == "kf_msg_or_event":
            if fields.get("OpenKfId") not in (None, "", self.w.open_kfid):
                raise CallbackError("回调的客服帐号不是本店的 (another open_kfid)")
            self._callback_token = fields.get("Token", "")
            self._next_sync = 0.0
            if self._wake is not None:
                self._wake()
        return "success"

    # -- the rest -------------------------------------------------------------------------------

    def contact_url(self, scene: str = "") -> str:
        return self.client.contact_url(self.w.open_kfid, scene)

    def health(self) -> ChannelHealth:
        return ChannelHealth(ok=not self._problem, detail=self._problem,
                             account=self.w.open_kfid, extra={"cursor": bool(self._cursor)})

    def close(self) -> None:
        if self._started:
            try:
                self._settle_pending()  # a clean stop keeps the cursor of a stored batch
            except Exception as exc:  # the next start reads that batch again: no loss
                log.warning("saving the kf cursor on close: %s", exc)
        self.client.close()
        if self.records is not None:
            self.records.close()
        self._started = False



