"""WeChatChannel: the merchant's personal WeChat, driven through a wxauto adapter.

What the channel adds on top of the library:
- durable keys composed from the window (compose.py), and a start baseline: whatever the
  windows show when the channel starts is emitted as history (`ts=0.0`), never answered;
- the bot's own sends recognised when they show up again (also the parts of a split reply and
  the "@member" prefix of a group reply), so only the owner's own typing pauses the AI;
- groups: off unless listed in `wechat.groups`, and then only messages that @ the bot;
- new friends: the waiting requests listed, and one accepted with the remark and tags the
  engine's friend policy chose (alpha01/friends.py: the cap, the remark sequence, binding codes);
- renames: a direct chat that shows up under a new name is matched to the chat it was by its
  history (the last messages of a chat that left the session list, in the same order, and no
  other chat's) and reported as a `kind="rename"` message before anything it says, so the
  engine keeps the same customer (pause, handoff, tags, 退订); the rename is remembered so a
  restart listens under the new name;
- a watchdog: window missing, logged out, WeChat updated, empty UI tree, listener lost → poll
  and send raise ChannelUnavailable (the engine keeps everything pending and records the
  alert) until the window is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...config import Settings, WeChatSettings
from ...domain import Inbound, Outbound
from ...errors import ChannelError, ChannelUnavailable, ConfigError, SendFailed
from ..base import Capability, Channel, ChannelHealth, FriendRequest
from ..text import split_text
from .adapters import SUPPORTED, Wx39Adapter, make_adapter
from .compose import TIME_GAP_S, ChatLog, Composed

log = logging.getLogger("alpha01.wechat")

TAIL_KEEP = 30  # fingerprints of the latest messages kept per direct chat (rename matching)
RENAME_MATCH = 8  # that many of a chat's latest messages must show up again, in order ...
RENAME_MIN = 3  # ... and at least this many
SCANS_PER_POLL = 8
_SPACES = re.compile(r"[\s\u2005\u2006\u2009\u200a\u200b\u3000]+")
_KINDS = {"text": "text", "quote": "text", "image": "image", "voice": "voice",
          "video": "video", "file": "file", "location": "location", "link": "link",
          "emotion": "emotion", "merge": "merge", "personal_card": "card", "note": "note"}


class WeChatChannel(Channel):
    name = "wechat"
    paced = True
    stable_ids = False

    capabilities = frozenset({Capability.DEGRADED, Capability.FRIENDS})

    def __init__(self, settings: WeChatSettings | Settings | None = None, *, lib: Any = None,
                 adapter: Wx39Adapter | None = None, clock: Any = None,
                 sleep: Callable[[float], None] | None = None, state_path: str | Path | None
                 = None, version_probe: Callable[[], str | None] | None = None,
                 ocr_capture: Callable[[], Any] | None = None, ocr_reader: Any = None,
                 **_: Any) -> None:
        if isinstance(settings, Settings):
            settings = settings.wechat
        self.s = settings or WeChatSettings()
        if self.s.mode not in ("listen", "global"):
            raise ConfigError(f"wechat.mode must be listen or global, got {self.s.mode!r}")
        self.adapter = adapter or make_adapter(self.s.adapter, lib,
                                               version_probe=version_probe)
        self.clock = clock
        self._sleep = sleep or (clock.sleep if clock is not None else _real_sleep)
        self.state_path = Path(state_path) if state_path else None
        self.account = ""
        self.names: set[str] = set(self.s.bot_names)
        self.version: str | None = None
        self.started_at = 0.0
        self.down: str | None = None
        self.alerts: list[tuple[float, str]] = []  # (when, detail), for health and tests
        self.not_listening: list[str] = []  # configured chats the library would not listen to
        self._logs: dict[str, ChatLog] = {}
        self._types: dict[str, str] = {}
        self._incoming: deque[tuple[str, Any]] = deque()
        self._lock = threading.Lock()
        self._ledger: dict[str, list[dict[str, Any]]] = {}
        self._progress: dict[int, int] = {}  # reply id -> parts already sent
        self._listening: list[str] = []
        self._last_watch = float("-inf")
        self._state = self._load_state()
        self._renamed_pending: list[Inbound] = []
        self._ocr_capture = ocr_capture
        self._ocr_reader = ocr_reader
        self._ocr_armed = False  # the outage was reported once: OCR may read from now on
        self._last_ocr = float("-inf")
        self.degraded = ""  # reading through OCR only (the engine keeps the channel down)
        self._tails_dirty = False

    # -- time -----------------------------------------------------------------------------

    def _now(self) -> float:
        if self.clock is not None:
            return self.clock.now()
        import time

        return time.time()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.started_at = self._now()
        try:
            self._connect()
            history = self._snapshot()
        except ChannelUnavailable as exc:
            self._go_down(str(exc))
            return
        with self._lock:
            self._history = history

    def _connect(self) -> None:
        self.adapter.connect()
        self.account = self.adapter.account()
        if self.account:
            self.names.add(self.account)
        self.version = self.version or self.adapter.version()
        self._listening = []
        if self.s.mode == "listen":
            self.not_listening = []
            for chat in dict.fromkeys(self._current_name(c) for c in self.s.listen):
                if self.adapter.listen(chat, self._on_message):
                    self._listening.append(chat)
                    self._types[chat] = self.adapter.chat_type(chat)
                else:  # no such chat, or wxauto4's one-chat limit: shown in health
                    self.not_listening.append(chat)

    def _snapshot(self) -> list[Inbound]:
        """What the windows show at start: history, composed and emitted as such."""
        out: list[Inbound] = []
        if self.s.mode == "listen":
            for chat in self._listening:
                out += self._to_inbound(chat, self._log(chat).feed(self.adapter.window(chat)),
                                        history=True)
            with self._lock:  # anything the listener delivered meanwhile is in the window too
                self._incoming.clear()
        else:
            for _ in range(50):
                got = self.adapter.next_new()
                if got is None:
                    break
                chat, kind, msgs = got
                self._types[chat] = kind
                out += self._to_inbound(chat, self._log(chat).feed(msgs), history=True)
        return out

    def close(self) -> None:
        self.adapter.close()

    # -- the library's listener thread calls this -----------------------------------------

    def _on_message(self, msg: Any, chat: Any) -> None:
        with self._lock:
            self._incoming.append((str(chat), msg))

    # -- Channel: reading -----------------------------------------------------------------

    def poll(self) -> list[Inbound]:
        now = self._now()
        try:
            self._watch(now)
        except ChannelUnavailable:
            if self._ocr_armed and self._ocr_ready():
                return self._ocr_poll(now)
            self._ocr_armed = True  # the first failing poll reaches the engine: the alert
            raise
        self.degraded = ""
        self._ocr_armed = False
        out: list[Inbound] = []
        with self._lock:
            history, self._history = getattr(self, "_history", []), []
            batch = list(self._incoming)
            self._incoming.clear()
        out += history
        out += self._renamed_pending
        self._renamed_pending = []
        try:
            by_chat: dict[str, list[Any]] = {}
            for chat, msg in batch:
                by_chat.setdefault(chat, []).append(msg)
            for chat, msgs in by_chat.items():
                out += self._to_inbound(chat, self._log(chat).feed(msgs))
            if self.s.mode == "global":
                for _ in range(SCANS_PER_POLL):
                    got = self.adapter.next_new()
                    if got is None:
                        break
                    chat, kind, msgs = got
                    self._types[chat] = kind
                    first = len(self._log(chat)) == 0
                    if first and kind != "group" and chat not in self._tails():
                        found = self._adopt_rename(chat, None)
                        if found is not None:
                            out += found
                            continue
                    out += self._to_inbound(chat, self._log(chat).feed(msgs), first_open=first)
        except ChannelUnavailable as exc:
            self._go_down(str(exc))
            raise ChannelUnavailable(self.down) from exc
        finally:
            if self._tails_dirty:
                self._tails_dirty = False
                self._save_state()
        return out

    def _log(self, chat: str) -> ChatLog:
        if chat not in self._logs:
            self._logs[chat] = ChatLog(chat)
        return self._logs[chat]

    def _to_inbound(self, chat: str, composed: list[Composed], *, history: bool = False,
                    first_open: bool = False) -> list[Inbound]:
        now = self._now()
        group = self._types.get(chat) == "group"
        if not group:
            self._remember(chat, [c.msg for c in composed])
        out = []
        for c in composed:
            old = history or (first_open and c.marker_ts is not None
                              and c.marker_ts < self.started_at - TIME_GAP_S)
            msg = self._inbound(chat, c, group, ts=0.0 if old else now, history=old)
            if msg is not None:
                out.append(msg)
        return out

    def _inbound(self, chat: str, c: Composed, group: bool, *, ts: float,
                 history: bool) -> Inbound | None:
        m = c.msg
        attr = str(getattr(m, "attr", ""))
        if attr not in ("friend", "self"):
            return None  # system notices, tickles: nothing to answer or record
        text = str(m.content or "")
        kind = _KINDS.get(str(getattr(m, "type", "text")), "other")
        base = dict(channel=self.name, chat=chat, ts=ts, seq=c.seq, key_hint=c.key,
                    ui_id=str(m.id) if m.id else None, kind=kind, is_group=group,
                    extra={"marker_ts": c.marker_ts})
        if attr == "self":
            if not history:
                text = self._own_echo(chat, text)
                if text is None:
                    return None  # a later part of one of our split replies
            return Inbound(sender="self", text=text, is_self=True, **base)
        sender = str(getattr(m, "sender", "") or chat)
        if group:
            if chat not in self.s.groups:
                return None  # groups are off unless enabled one by one
            mentioned, text = self._mention(text)
            if not mentioned and not history:
                return None  # in a group the bot speaks only when spoken to
            return Inbound(sender=sender, text=text, mentioned=mentioned, **base)
        return Inbound(sender=sender, text=text, **base)

    # -- groups ---------------------------------------------------------------------------

    def _mention(self, text: str) -> tuple[bool, str]:
        """Is the bot @-mentioned (under any name it has had), and the text without the @."""
        squashed = _SPACES.sub("", text)
        hit = False
        for name in sorted(self.names, key=len, reverse=True):
            bare = _SPACES.sub("", name)
            if bare and "@" + bare in squashed:
                hit = True
                spaced = r"[\s\u2005\u3000]*".join(map(re.escape, bare))
                text = re.sub("@" + spaced + r"[\s\u2005\u3000]*", "", text)
        return hit, text.strip()

    # -- our own sends coming back --------------------------------------------------------

    def _own_echo(self, chat: str, text: str) -> str | None:
        """The text the engine should see for a self message: the full reply for the first
        part of ours, None for a later part, the text itself when the owner typed it."""
        entries = self._ledger.get(chat, [])
        now = self._now()
        entries[:] = [e for e in entries if now - e["at"] < 3600]
        for e in entries:
            bare = text
            if e["at_member"]:
                bare = re.sub(r"^@" + re.escape(e["at_member"]) + r"[\s\u2005]*", "", text)
            if bare == e["part"]:
                entries.remove(e)
                return e["full"] if e["first"] else None
        return text

    # -- Channel: writing -----------------------------------------------------------------

    def send(self, out: Outbound) -> None:
        if self.down:
            raise ChannelUnavailable(self.down)
        parts = split_text(out.text, self.s.split_chars) or [out.text]
        done = self._progress.get(out.id, 0)
        for i in range(done, len(parts)):
            if i > 0:
                self._sleep(self.s.part_gap_s)
            member = out.member if i == 0 else ""
            entry = {"part": parts[i], "full": out.text, "first": i == 0,
                     "at_member": member, "at": self._now()}
            self._ledger.setdefault(out.chat, []).append(entry)
            try:
                self.adapter.send(out.chat, parts[i], at=member or None)
            except ChannelUnavailable as exc:
                self._ledger[out.chat].remove(entry)
                self._go_down(str(exc))
                raise
            except ChannelError:
                self._ledger[out.chat].remove(entry)
                if i == 0:
                    raise SendFailed(f"send to {out.chat} failed") from None
                raise
            self._progress[out.id] = i + 1
        self._progress.pop(out.id, None)

    def confirm_sent(self, out: Outbound) -> bool | None:
        """Read the chat's window back: is our reply (its first part) there?"""
        if out.chat not in self._listening:
            return None
        try:
            msgs = self.adapter.window(out.chat)
        except ChannelError:
            return None
        first = (split_text(out.text, self.s.split_chars) or [out.text])[0]
        for m in msgs:
            if getattr(m, "attr", "") == "self" and str(m.content).endswith(first):
                return True
        return False if msgs else None

    # -- new friends ----------------------------------------------------------------------

    def friend_requests(self) -> list[FriendRequest]:
        """The friend requests WeChat shows as acceptable now."""
        try:
            return [FriendRequest(name=str(e.name), message=str(getattr(e, "msg", "") or ""),
                                  handle=e)
                    for e in self.adapter.new_friends() if getattr(e, "acceptable", True)]
        except ChannelUnavailable as exc:
            self._go_down(str(exc))
            raise ChannelUnavailable(self.down) from exc

    def accept_friend(self, request: FriendRequest, remark: str, tags: list[str]) -> str:
        """Accept with the engine's remark and tags; in listen mode, listen to the new chat."""
        try:
            self.adapter.accept(request.handle, remark, tags)
        except ChannelUnavailable as exc:
            self._go_down(str(exc))
            raise ChannelUnavailable(self.down) from exc
        if self.s.mode == "listen":
            try:
                if self.adapter.listen(remark, self._on_message):
                    self._listening.append(remark)
            except ChannelError:
                log.warning("cannot listen to the new friend %s yet", remark)
        return remark

    # -- the OCR fallback -------------------------------------------------------------------

    def _ocr_ready(self) -> bool:
        return bool(self.s.ocr_fallback and self._ocr_capture is not None)

    def _ocr_poll(self, now: float) -> list[Inbound]:
        """Read the chat on screen from a capture while the UI tree is unreadable. Reading
        only: sends stay paused (`self.down`), replies wait in the outbox."""
        if now - self._last_ocr < self.s.ocr_interval_s:
            return []
        self._last_ocr = now
        try:
            image = self._ocr_capture()
        except Exception as exc:  # the desktop is locked, the window is gone ...
            log.info("WeChat capture failed: %s", exc)
            image = None
        if image is None:
            raise ChannelUnavailable(self.down or "WeChat window not visible")
        if self._ocr_reader is None:
            from .ocr import ChatReader

            self._ocr_reader = ChatReader()
        try:
            screen = self._ocr_reader.read(image)
        except ValueError as exc:
            raise ChannelUnavailable(f"{self.down}; OCR: {exc}") from exc
        chat = screen.title.strip()
        self.degraded = f"{self.down}（正在用截图识别读取 {chat or '?'}，回复暂停）"
        if not chat or self._types.get(chat) == "group":
            return []  # no name, or a group (senders are not on the picture): nothing read
        if self.s.mode == "listen" and chat not in self._listening:
            return []
        chat_log = self._log(chat)
        first = len(chat_log) == 0
        chat_log.lenient_markers = True
        return self._to_inbound(chat, chat_log.feed(screen.messages), history=first)

    # -- renames --------------------------------------------------------------------------

    def _tails(self) -> dict[str, list[str]]:
        return self._state.setdefault("tails", {})

    def _remember(self, chat: str, msgs: list[Any]) -> None:
        fps = [_fingerprint(m) for m in msgs if getattr(m, "attr", "") in ("friend", "self")]
        if fps:
            tail = self._tails().setdefault(chat, [])
            tail += fps
            del tail[:-TAIL_KEEP]
            self._tails_dirty = True

    def _current_name(self, chat: str) -> str:
        renamed = self._state.get("renamed", {})
        seen = {chat}
        while chat in renamed and renamed[chat] not in seen:
            chat = renamed[chat]
            seen.add(chat)
        return chat

    def _match_rename(self, chat: str, window: list[Any]) -> tuple[str, int] | None:
        """Which chat that left the session list `chat` used to be, judged by its history:
        the old chat's latest messages (up to RENAME_MATCH, at least RENAME_MIN) must appear in
        `window` in the same order, and no other chat's. Returns (old name, index in `window`
        just past the match)."""
        humans = [(i, _fingerprint(m)) for i, m in enumerate(window)
                  if getattr(m, "attr", "") in ("friend", "self")]
        fps = [f for _, f in humans]
        present = set(self.adapter.session_names() or [])
        hits = []
        for old, tail in self._tails().items():
            if old == chat or old in present or old in self._listening:
                continue
            want = tail[-RENAME_MATCH:]
            if len(want) < RENAME_MIN:
                continue
            for start in range(len(fps) - len(want), -1, -1):
                if fps[start:start + len(want)] == want:
                    hits.append((old, humans[start + len(want) - 1][0] + 1))
                    break
        if len(hits) != 1:
            if len(hits) > 1:
                log.warning("%s matches the history of %s: not merged", chat,
                            ", ".join(h[0] for h in hits))
            return None
        return hits[0]

    def _adopt_rename(self, chat: str, window: list[Any] | None) -> list[Inbound] | None:
        """If `chat` is a renamed chat, record the rename and return what to emit: the rename,
        then whatever its window shows after the history already known under the old name."""
        if window is None:
            try:
                window = self.adapter.peek(chat)
            except ChannelUnavailable:
                raise
            except ChannelError:
                return None
        found = self._match_rename(chat, window)
        if found is None:
            return None
        old, cut = found
        log.info("WeChat chat %s is now called %s", old, chat)
        self._state.setdefault("renamed", {})[old] = chat
        self._tails()[chat] = self._tails().pop(old)
        self._tails_dirty = True
        out = [Inbound(channel=self.name, chat=chat, sender=chat, text=f"{old} → {chat}",
                       ts=self._now(), key_hint=f"rename:{old}>{chat}", kind="rename",
                       extra={"old": old, "how": "history"})]
        chat_log = self._log(chat)
        chat_log.feed(window[:cut])  # recorded under the old name already: not emitted again
        out += self._to_inbound(chat, chat_log.feed(window[cut:]))
        return out

    def _follow_rename(self, chat: str) -> None:
        """A listened chat is gone: look for it under a new name in the session list."""
        names = self.adapter.session_names() or []
        for name in names:
            if name in self._listening or name in self._tails() or name == chat:
                continue
            try:
                window = self.adapter.peek(name)
            except ChannelUnavailable:
                raise
            except ChannelError:
                continue
            at = self._listening.index(chat)
            self._listening.remove(chat)  # a chat still listened is never a rename's source
            found = self._match_rename(name, window)
            if found is None or found[0] != chat:
                self._listening.insert(at, chat)
                continue
            try:
                self.adapter.unlisten(chat)
            except ChannelError:
                pass
            self._types[name] = "friend"
            found = self._adopt_rename(name, window) or []
            if self.adapter.listen(name, self._on_message):
                self._listening.append(name)
            self._renamed_pending += found
            return

    def _load_state(self) -> dict[str, Any]:
        if self.state_path and self.state_path.exists():
            try:
                return json.loads(self.state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("unreadable %s; rename history starts over", self.state_path)
        return {}

    def _save_state(self) -> None:
        if not self.state_path:
            return
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state), encoding="utf-8")
        tmp.replace(self.state_path)

    # -- the watchdog ---------------------------------------------------------------------

    def _watch(self, now: float) -> None:
        """Check the window every `watchdog_interval_s` (every poll while down)."""
        if not self.down and now - self._last_watch < self.s.watchdog_interval_s:
            return
        self._last_watch = now
        problem = self._problem()
        if problem:
            self._go_down(problem)
            raise ChannelUnavailable(self.down)
        if self.down:
            self._recover()

    def _problem(self) -> str | None:
        if self.down and self.adapter.wx is None:
            try:
                self._connect()
            except ChannelError as exc:
                return str(exc)
        problem = self.adapter.problem()
        if problem:
            return problem
        version = self.adapter.version()
        if version and self.version and version != self.version:
            return (f"WeChat changed from {self.version} to {version}; check docs/wechat.md "
                    "and restart alpha01")
        if version and not version.startswith(SUPPORTED[self.adapter.generation]):
            return f"WeChat {version} is not supported by the {self.adapter.generation} adapter"
        account = self.adapter.account()
        if account:
            self.names.add(account)  # the nickname may have changed: @ under both works
        if self.s.mode == "listen":
            if not self.adapter.listener_alive():
                return "WeChat listener stopped"
            lost = self.adapter.listener_lost(self._listening)
            for chat in lost:
                try:
                    self.adapter.listen(chat, self._on_message)
                except ChannelError:
                    pass
            lost = self.adapter.listener_lost(self._listening)
            for chat in lost:
                self._follow_rename(chat)
            lost = self.adapter.listener_lost(self._listening)
            if lost:
                return f"WeChat listener lost for {', '.join(lost)}"
        return None

    def _go_down(self, detail: str) -> None:
        if self.down is None:  # one outage keeps its first reason until it is over
            self.alerts.append((self._now(), detail))
            log.warning("WeChat paused: %s", detail)
            self.down = detail
        self.adapter.wx = None if "not reachable" in detail or "missing" in detail else \
            self.adapter.wx

    def _recover(self) -> None:
        """Back up: reconnect and read the windows through the same keys (nothing is lost,
        nothing already seen comes back)."""
        log.info("WeChat back after: %s", self.down)
        self.down = None
        if self.s.mode == "listen":
            for chat in self._listening:
                msgs = self.adapter.window(chat)
                with self._lock:
                    self._incoming.extend((chat, m) for m in msgs)

    def health(self) -> ChannelHealth:
        return ChannelHealth(
            ok=self.down is None, detail=self.degraded or self.down or "",
            account=self.account or None,
            extra={"adapter": self.adapter.generation, "version": self.version,
                   "mode": self.s.mode, "listening": list(self._listening),
                   "not_listening": list(self.not_listening), "alerts": len(self.alerts)})


def _fingerprint(msg: Any) -> str:
    """Who (us or them) said what, without the sender's name (which a rename changes)."""
    raw = "\x1f".join((str(getattr(msg, "attr", "")), str(getattr(msg, "type", "")),
                       str(getattr(msg, "content", ""))))
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=8).hexdigest()


def _real_sleep(seconds: float) -> None:
    import time

    if seconds > 0:
        time.sleep(seconds)
