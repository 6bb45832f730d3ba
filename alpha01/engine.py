"""The engine: owns the channel loop and the single database writer.

Reliability by construction:
- every inbound message is persisted under a durable dedupe key before anything else, and
  reaches exactly one terminal state (answered / handed off / ignored with a reason);
- every reply is an outbox row keyed by the message it answers, written in the same
  transaction as that terminal state, before any send;
- a send is marked `sending` before the channel is called and `sent` after; after a crash the
  channel is asked (`confirm_sent`), and a send whose outcome cannot be known is never repeated;
- nothing older than a channel's start baseline is answered.

Only the engine thread writes. Other threads (TUI, jobs) hand it work with `submit`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from .channels.base import (
    Befriends,
    Capability,
    Channel,
    HearsEngine,
    ReadsDegraded,
    ReplyWindowed,
    Wakes,
)
from .clock import Clock
from .config import Settings
from .domain import Action, Decision, Inbound, MessageState, Outbound, Tier
from .errors import ChannelError, ChannelUnavailable, SendFailed
from .friends import FriendPolicy, FriendRules
from .pipeline import intake
from .pipeline.core import Pipeline
from .pipeline.pacing import Pacer, ReplyWindow
from .storage.db import Database
from .storage.queries import PendingBatch, Store

log = logging.getLogger("alpha01.engine")

Listener = Callable[[str, dict[str, Any]], None]
ECHO_WINDOW_S = 86_400.0


@dataclass
class StepStats:
    polled: int = 0
    new: int = 0
    decided: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0


@dataclass
class AskResult:
    """The contract of `alpha01 ask --json` (documented in README; keep it stable)."""

    reply: str | None
    tier: str | None
    handoff: bool
    passages: list[dict[str, Any]]
    model: str | None
    latency_ms: float
    reason: str
    trace: dict[str, Any] = field(default_factory=dict)

    def to_json(self, *, with_trace: bool = False) -> dict[str, Any]:
        out = {"reply": self.reply, "tier": self.tier, "handoff": self.handoff,
               "passages": self.passages, "model": self.model,
               "latency_ms": round(self.latency_ms, 1), "reason": self.reason}
        if with_trace:
            out["trace"] = self.trace
        return out


def _noop() -> None:
    return None


def _friends_key(channel: str) -> str:
    return f"{channel}#friends"


class Engine:
    def __init__(self, *, db: Database, pipeline: Pipeline, settings: Settings,
                 channels: list[Channel] = (), clock: Clock | None = None,
                 pacer: Pacer | None = None, friends: FriendPolicy | None = None) -> None:
        self.db = db
        self.store = Store(db)
        self.pipeline = pipeline
        self.settings = settings
        self.channels = {ch.name: ch for ch in channels}
        self.clock = clock or Clock()
        self.pacer = pacer or Pacer(settings.pacing)
        self.friends = friends or FriendPolicy(FriendRules.from_settings(settings.wechat))
        self.listeners: list[Listener] = []
        self.baselines: dict[str, float] = {}
        self.unknown_sends = 0
        self._down: dict[str, str] = {}  # channel -> why it is unavailable
        self._commands: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future]] = (
            queue.Queue())
        self._rules_sig: tuple | None = None
        self._started = False
        self._thread_id: int | None = None
        self._ask_history: dict[str, list[tuple[str, str]]] = {}  # ask(): per asker, in memory

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Open channels, fix baselines, reconcile sends a crash left in flight."""
        self._thread_id = threading.get_ident()
        now = self.clock.now()
        for ch in self.channels.values():
            caps = ch.capabilities
            if Capability.WAKE in caps:  # e.g. the web channel: poll at once on a new message
                cast(Wakes, ch).set_wake(self.wake)
            if Capability.ENGINE_EVENTS in caps:  # e.g. WeCom: hand a chat to a human agent
                self.listeners.append(cast(HearsEngine, ch).on_engine_event)
            if Capability.FRIENDS in caps:
                self.friends.load(ch.name, self.store.cursor(_friends_key(ch.name)))
            ch.start()
            with self.store.tx():
                self.baselines[ch.name] = self.store.baseline(ch.name, now,
                                                              ch.history_baseline())
        self.reconcile()
        self.pacer.load(self.store.recent_sends(now - 86_400), now)
        self._refresh_rules()
        self._started = True

    def run(self, stop: threading.Event, *, idle_sleep: float | None = None) -> None:
        """The loop: step until `stop` is set. Sleeps between polls, wakes early for work."""
        if not self._started:
            self.start()
        interval = self.settings.engine.poll_interval_s if idle_sleep is None else idle_sleep
        idle_steps = 0
        while not stop.is_set():
            try:
                stats = self.step()
                busy = stats.polled or stats.decided or stats.sent
                idle_steps = 0 if busy else idle_steps + 1
                if idle_steps == 3:  # quiet for a moment: a good time for the WAL's fsync
                    self.db.checkpoint()
            except Exception:  # one bad step must not stop the shop's bot
                log.exception("engine step failed")
                self._emit("alert", {"detail": "engine step failed; see the log"})
            self._wait(stop, interval)

    def _wait(self, stop: threading.Event, interval: float) -> None:
        try:
            fn, fut = self._commands.get(timeout=interval)
        except queue.Empty:
            return
        self._run_command(fn, fut)

    def close(self) -> None:
        for ch in self.channels.values():
            try:
                ch.close()
            except Exception:
                log.exception("closing channel %s", ch.name)

    # -- commands from other threads ----------------------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future:
        """Run `fn(*args, **kwargs)` on the engine thread (the only writer); returns a Future."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._commands.put((lambda: fn(*args, **kwargs), fut))
        return fut

    def wake(self) -> None:
        """Cut the idle wait short so the next step runs now (callable from any thread)."""
        self._commands.put((_noop, concurrent.futures.Future()))

    def _run_command(self, fn: Callable[[], Any], fut: concurrent.futures.Future) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn())
        except BaseException as exc:
            fut.set_exception(exc)

    def _drain_commands(self) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            self._run_command(fn, fut)

    # -- one iteration ------------------------------------------------------------------------

    def step(self) -> StepStats:
        stats = StepStats()
        self._drain_commands()
        for ch in list(self.channels.values()):
            self._poll(ch, stats)
        self.process_ready(stats)
        self.send_due(stats)
        return stats

    def _poll(self, ch: Channel, stats: StepStats) -> None:
        now = self.clock.now()
        try:
            msgs = ch.poll()
            if Capability.FRIENDS in ch.capabilities and self.friends.due(ch.name, now):
                msgs = msgs + self.friends.admit(ch.name, cast(Befriends, ch), now,
                                                 self._save_friends)
        except ChannelUnavailable as exc:
            with self.store.tx():
                self.store.set_channel_health(ch.name, False, str(exc)[:200], now)
                if self._down.get(ch.name) != str(exc):  # one alert per new problem
                    self.store.event("channel-down", now, channel=ch.name, detail=str(exc)[:200])
            if self._down.get(ch.name) != str(exc):
                self._emit("alert", {"detail": f"{ch.name}: {exc}", "channel": ch.name})
            self._down[ch.name] = str(exc)
            self._emit("channel", {"channel": ch.name, "ok": False, "detail": str(exc)})
            return
        degraded = (cast(ReadsDegraded, ch).degraded
                     if Capability.DEGRADED in ch.capabilities else "")
        if degraded:  # reading only (WeChat through OCR): still down for sending and the owner
            with self.store.tx():
                self.store.set_channel_health(ch.name, False, str(degraded)[:200], now)
        elif self._down.pop(ch.name, None) is not None:
            with self.store.tx():
                self.store.set_channel_health(ch.name, True, "", now)
                self.store.event("channel-up", now, channel=ch.name)
            self._emit("channel", {"channel": ch.name, "ok": True, "detail": ""})
        stats.polled += len(msgs)
        if not msgs:
            return
        with self.store.tx():  # one commit for the whole poll: all of it lands, or none
            for msg in msgs:
                if self.intake(msg):
                    stats.new += 1

    def _save_friends(self, channel: str, counters: str) -> None:
        """The friend policy's counters, kept after each acceptance."""
        with self.store.tx():
            self.store.set_cursor(_friends_key(channel), counters, self.clock.now())

    # -- intake -------------------------------------------------------------------------------

    def intake(self, msg: Inbound) -> bool:
        """Persist one channel message exactly once. Returns True if it was new."""
        now = self.clock.now()
        msg.text = intake.clean_text(msg.text)
        key = intake.dedupe_key(msg)
        baseline = self.baselines.get(msg.channel, 0.0)
        member = msg.sender if msg.is_group else ""
        with self.store.tx():
            if self.store.seen(msg.channel, key):
                return False
            if msg.is_self:
                return self._intake_self(msg, key, baseline, now)
            if msg.kind == "friend":
                return self._intake_friend(msg, key, now)
            if msg.kind == "rename":
                return self._intake_rename(msg, key, now)
            early = self._presort(msg, baseline=baseline, now=now,
                                  stale_after_s=self.settings.engine.stale_after_s)
            name = msg.sender if not msg.is_group else f"{msg.sender}@{msg.chat}"
            customer = self.store.customer(msg.channel, msg.chat, member, name, now)
            state, reason = MessageState.RECEIVED, None
            if early is not None and early.action is Action.IGNORE:
                state, reason = MessageState.IGNORED, early.reason
            mid = self.store.insert_message(
                channel=msg.channel, key=key, customer_id=customer.id, chat=msg.chat,
                sender=msg.sender, text=msg.text, kind=msg.kind, ts=msg.ts, now=now,
                ui_id=msg.ui_id, is_group=msg.is_group, state=state, reason=reason)
            if early is not None and early.action is Action.HANDOFF and mid is not None:
                self._apply(early, customer.id, [mid], msg.channel, msg.chat, now, 0.0)
        self._emit("message", {"id": mid, "channel": msg.channel, "chat": msg.chat,
                               "sender": msg.sender, "text": msg.text,
                               "customer_id": customer.id, "state": str(state),
                               "reason": reason})
        return True

    # -- the stages every message goes through (a channel's, and `ask`'s) ----------------------

    def _presort(self, msg: Inbound, *, baseline: float, now: float,
                 stale_after_s: float) -> Decision | None:
        """Intake's verdict on what never reaches the pipeline (history, stale, non-text, empty,
        too long): ignore or hand off. None: the message goes on to the pipeline."""
        verdict = intake.presort(msg, baseline=baseline, now=now, stale_after_s=stale_after_s,
                                 max_chars=self.settings.engine.max_message_chars)
        if verdict is None:
            return None
        if verdict[0] == "ignored":
            return Decision.ignore(verdict[1])
        return Decision.handoff(self.settings.shop.handoff_reply, verdict[1])

    def _think(self, question: str, *, sender: str, history: list[tuple[str, ...]],
               now: float) -> Decision:
        """The pipeline's decision on a question (one message, or a batch joined by lines)."""
        return self.pipeline.decide(question, sender=sender, history=history,
                                    when=datetime.fromtimestamp(now))

    @staticmethod
    def _outgoing(d: Decision) -> str | None:
        """The reply a decision sends, if any (a handoff may carry one)."""
        return d.reply if d.action in (Action.RESPOND, Action.HANDOFF) and d.reply else None

    @staticmethod
    def _public_trace(d: Decision) -> dict[str, Any]:
        return {k: v for k, v in d.trace.items() if not k.startswith("_")}

    def _intake_self(self, msg: Inbound, key: str, baseline: float, now: float) -> bool:
        """A message from our own account: the echo of a bot reply, or the owner typing."""
        old = msg.ts is not None and msg.ts < baseline
        echo_of = None if old else self.store.match_echo(msg.channel, msg.chat, msg.text,
                                                         now - ECHO_WINDOW_S)
        customer = self.store.customer(msg.channel, msg.chat, "", msg.chat, now)
        reason = "history" if old else ("echo" if echo_of else "owner-typed")
        mid = self.store.insert_message(
            channel=msg.channel, key=key, customer_id=customer.id, chat=msg.chat,
            sender=msg.sender, text=msg.text, kind=msg.kind, ts=msg.ts, now=now,
            ui_id=msg.ui_id, is_group=msg.is_group, state=MessageState.IGNORED, reason=reason,
            direction="self" if echo_of or old else "owner")
        if reason == "owner-typed":
            self._take_over(customer.id, now, reason="owner typed in the chat", message_id=mid)
        return True

    def _intake_friend(self, msg: Inbound, key: str, now: float) -> bool:
        """A new friend the channel has accepted: record them, tag them, queue the welcome.

        The channel has already accepted the request (within its daily cap) and set the remark
        in WeChat; `msg.extra` carries `remark` and `tags` (e.g. the store and channel a
        binding code named). The welcome goes through the outbox and pacing like any reply.
        """
        customer = self.store.customer(msg.channel, msg.chat, "", msg.sender, now)
        mid = self.store.insert_message(
            channel=msg.channel, key=key, customer_id=customer.id, chat=msg.chat,
            sender=msg.sender, text=msg.text, kind="friend", ts=msg.ts, now=now,
            ui_id=msg.ui_id, is_group=False, state=MessageState.IGNORED, reason="new-friend")
        if msg.extra.get("remark"):
            self.store.set_remark(customer.id, str(msg.extra["remark"]))
        tags = [str(t) for t in msg.extra.get("tags", [])]
        if tags:
            self.store.set_tags(customer.id, customer.tags + tags)
        welcome = self.settings.shop.welcome
        rid = None
        if welcome and msg.extra.get("welcome", True):
            rid = self.store.add_reply(
                message_id=mid, customer_id=customer.id, channel=msg.channel, chat=msg.chat,
                text=welcome, kind="welcome", tier=str(Tier.RULE), reason="new friend",
                model=None, trace={"friend": dict(msg.extra)}, latency_ms=None, now=now,
                not_before=self.pacer.plan(welcome, now) if self._paced(msg.channel) else now)
        self.store.event("new-friend", now, customer_id=customer.id, message_id=mid,
                         remark=msg.extra.get("remark"), tags=tags, welcome_reply=rid)
        self._emit("friend", {"customer_id": customer.id, "name": msg.sender, "tags": tags})
        return True

    def _intake_rename(self, msg: Inbound, key: str, now: float) -> bool:
        """The channel found that the direct chat `extra["old"]` is now `msg.chat`: the same
        customer from now on (merged with any row already made under the new name). Renaming
        twice to the same name changes nothing, so no message row is kept for it."""
        old, how = str(msg.extra.get("old", "")), str(msg.extra.get("how", ""))
        cid = self.store.rename_customer(msg.channel, old, msg.chat, now, how)
        self.store.event("customer-renamed", now, customer_id=cid, channel=msg.channel,
                         old=old, new=msg.chat, how=how)
        self._emit("rename", {"customer_id": cid, "channel": msg.channel, "old": old,
                              "new": msg.chat, "how": how})
        return True

    def _take_over(self, customer_id: int, now: float, *, reason: str,
                   message_id: int | None = None) -> None:
        until = now + self.settings.engine.takeover_pause_min * 60
        self.store.pause(customer_id, until, reason)
        cancelled = self.store.cancel_pending(customer_id, "owner took over")
        self.store.event("takeover", now, customer_id=customer_id, message_id=message_id,
                         until=until, reason=reason, cancelled=cancelled)
        self._emit("takeover", {"customer_id": customer_id, "until": until, "reason": reason})

    # -- deciding -----------------------------------------------------------------------------

    def process_ready(self, stats: StepStats | None = None) -> int:
        """Answer every customer whose messages have been quiet for the aggregation window."""
        self._refresh_rules()
        now = self.clock.now()
        window = self.settings.engine.aggregate_window_s
        done = 0
        for batch in self.store.pending_batches():
            if now - batch.last_received_at >= window:
                self._decide_batch(batch)
                done += 1
        if stats:
            stats.decided += done
        return done

    def _refresh_rules(self) -> None:
        sig = self.store.rules_signature()
        if sig != self._rules_sig:
            self.pipeline.set_rules(self.store.rules())
            self._rules_sig = sig

    def _decide_batch(self, batch: PendingBatch) -> Decision:
        started = time.perf_counter()
        now = self.clock.now()
        rows = self.store.messages(batch.message_ids)
        customer = self.store.customer_by_id(batch.customer_id)
        ids = [r["id"] for r in rows]
        channel, chat = rows[-1]["channel"], rows[-1]["chat"]
        if customer is None:  # forgotten (PIPL delete) between intake and now
            return Decision.ignore("customer deleted")
        gate = self._gate(customer, now)
        if gate is not None:
            decision = gate
        else:
            question = "\n".join(r["text"] for r in rows)
            history = self.store.history(customer.id, self.settings.engine.history_window,
                                         before_id=ids[0])
            decision = self._think(question, sender=rows[-1]["sender"], history=history,
                                   now=now)
            if len(ids) > 1:
                decision.trace["batch"] = ids
        latency = (time.perf_counter() - started) * 1000
        with self.store.tx():
            # The owner may have taken over while the model was writing: look again.
            fresh = self.store.customer_by_id(customer.id)
            late = self._gate(fresh, self.clock.now()) if fresh and gate is None else None
            if late is not None:
                decision = late
            self._apply(decision, customer.id, ids, channel, chat, self.clock.now(), latency)
        return decision

    def _gate(self, customer: Any, now: float) -> Decision | None:
        if customer.blocked:
            return Decision.ignore("blocked customer")
        if customer.paused_until and customer.paused_until > now:
            return Decision.ignore("AI paused for this customer")
        if customer.handed_off:
            return Decision.ignore("handed off: a human owns this chat")
        return None

    def _apply(self, d: Decision, customer_id: int, ids: list[int], channel: str, chat: str,
               now: float, latency_ms: float) -> int | None:
        """Write a decision: outbox row, terminal states, handoff — inside the caller's tx."""
        reply_id = None
        reply = self._outgoing(d)
        if reply is not None:
            reply_id = self.store.add_reply(
                message_id=ids[-1], customer_id=customer_id, channel=channel, chat=chat,
                text=reply, kind="reply", tier=str(d.tier) if d.tier else None,
                reason=d.reason, model=d.model, trace=self._public_trace(d),
                latency_ms=latency_ms, now=now, not_before=self.pacer.plan(reply, now)
                if self._paced(channel) else now)
        state = {Action.RESPOND: MessageState.ANSWERED, Action.HANDOFF: MessageState.HANDED_OFF,
                 Action.IGNORE: MessageState.IGNORED}[d.action]
        self.store.settle(ids, state, d.reason, reply_id)
        if d.action is Action.HANDOFF:
            # "I'll check with the owner" leaves the AI answering the customer's next
            # questions; 转人工, a complaint or a blocked reply give the chat to a human.
            self.store.open_handoff(customer_id, ids[-1], d.reason, now,
                                    owns_chat=d.tier is not Tier.FALLBACK)
        if d.opt_out:
            self.store.set_flags(customer_id, opted_out=1)
            # 退订 also stops what a job had already queued for them
            self.store.cancel_pending(customer_id, "customer opted out",
                                      kinds=("broadcast", "followup"))
        if d.rule_id is not None:
            self.store.rule_hit(d.rule_id)
        self._emit("decision", {"customer_id": customer_id, "message_ids": ids,
                                "action": str(d.action), "reason": d.reason,
                                "tier": str(d.tier) if d.tier else None, "reply": d.reply,
                                "reply_id": reply_id, "latency_ms": latency_ms})
        return reply_id

    def _paced(self, channel: str) -> bool:
        ch = self.channels.get(channel)
        return bool(ch is not None and ch.paced and self.settings.pacing.enabled)

    # -- sending ------------------------------------------------------------------------------

    def send_due(self, stats: StepStats | None = None) -> int:
        stats = stats or StepStats()
        now = self.clock.now()
        for out in self.store.due_replies(now):
            ch = self.channels.get(out.channel)
            if ch is None:
                continue  # its channel is not running in this process; it waits
            if Capability.REPLY_WINDOW in ch.capabilities:
                # the platform's own rule (微信客服: 48 hours, 5 messages)
                limits = cast(ReplyWindowed, ch).reply_window
                last, sent = self.store.reply_window(self.store.reply_customer(out.id))
                if not self.pacer.admit_window(ReplyWindow(*limits), last, sent, now):
                    self._window_closed(out, stats)
                    continue
            if self._paced(out.channel):
                wait = self.pacer.admit(out.chat, now, text=out.text, kind=out.kind)
                if wait > 0:
                    with self.store.tx():
                        self.store.mark_reply(out.id, "pending", not_before=now + wait)
                    continue
            self._send_one(ch, out, stats)
            now = self.clock.now()
        return stats.sent

    def _send_one(self, ch: Channel, out: Outbound, stats: StepStats) -> None:
        with self.store.tx():
            self.store.mark_reply(out.id, "sending")
        try:
            ch.send(out)
        except SendFailed as exc:
            self._send_failed(out, str(exc), stats)
            return
        except ChannelUnavailable as exc:
            with self.store.tx():
                self.store.mark_reply(out.id, "pending", error=str(exc),
                                      not_before=self.clock.now() + 10.0)
            return
        except Exception as exc:  # the channel broke mid-send: did it go out?
            log.warning("send of reply %s raised %r; asking the channel", out.id, exc)
            self._settle_in_flight(ch, out, stats)
            return
        now = self.clock.now()
        with self.store.tx():
            self.store.mark_reply(out.id, "sent", now=now)
        self.pacer.record(out.chat, now, text=out.text)
        stats.sent += 1
        self._emit("sent", {"reply_id": out.id, "channel": out.channel, "chat": out.chat,
                            "text": out.text})

    def _window_closed(self, out: Outbound, stats: StepStats) -> None:
        """The platform would refuse this send until the customer writes again: no retry; the
        owner gets a handoff (they can still reach the customer another way)."""
        now = self.clock.now()
        with self.store.tx():
            self.store.mark_reply(out.id, "failed", error="reply window closed")
            cid = self.store.reply_customer(out.id)
            if cid is not None:
                self.store.open_handoff(cid, out.reply_to, "reply window closed", now,
                                        owns_chat=False)
            self.store.event("send-refused", now, customer_id=cid, reply_id=out.id,
                             reason="reply window closed")
        stats.failed += 1
        self._emit("alert", {"detail": f"reply {out.id} to {out.chat}: the platform's reply "
                             "window is closed", "reply_id": out.id})

    def _send_failed(self, out: Outbound, error: str, stats: StepStats) -> None:
        now = self.clock.now()
        attempts = out.attempts + 1
        with self.store.tx():
            if attempts < self.settings.engine.send_attempts:
                self.store.mark_reply(out.id, "pending", error=error, attempt=True,
                                      not_before=now + 5.0 * attempts)
                return
            self.store.mark_reply(out.id, "failed", error=error, attempt=True)
            cid = self.store.reply_customer(out.id)
            if cid is not None:
                self.store.open_handoff(cid, out.reply_to, "send failed", now)
            self.store.event("send-failed", now, customer_id=cid, reply_id=out.id,
                             error=error[:200])
        stats.failed += 1
        self._emit("alert", {"detail": f"reply {out.id} to {out.chat} could not be sent",
                             "reply_id": out.id, "channel": out.channel})

    def reconcile(self) -> StepStats:
        """After a crash: settle every send that was in flight. Never resend blindly."""
        stats = StepStats()
        for out in self.store.in_flight():
            ch = self.channels.get(out.channel)
            if ch is not None:
                self._settle_in_flight(ch, out, stats)
        return stats

    def _settle_in_flight(self, ch: Channel, out: Outbound, stats: StepStats) -> None:
        try:
            went_out = ch.confirm_sent(out)
        except ChannelError:
            went_out = None
        now = self.clock.now()
        with self.store.tx():
            if went_out is True:
                self.store.mark_reply(out.id, "sent", now=now)
                stats.sent += 1
            elif went_out is False:
                self.store.mark_reply(out.id, "pending", not_before=now)
            else:
                self.store.mark_reply(out.id, "unknown", error="outcome unknown after a crash")
                cid = self.store.reply_customer(out.id)
                self.store.event("send-unknown", now, customer_id=cid, reply_id=out.id)
                if cid is not None:
                    self.store.open_handoff(cid, out.reply_to, "send outcome unknown", now)
                self.unknown_sends += 1
                stats.unknown += 1

    # -- actions (run these on the engine thread, e.g. through submit) ------------------------

    def manual_reply(self, customer_id: int, text: str) -> int:
        """The merchant's own reply through the same outbox and pacing."""
        text = intake.clean_text(text)
        if not text:
            raise ValueError("empty reply")
        customer = self.store.customer_by_id(customer_id)
        if customer is None:
            raise ValueError(f"no customer {customer_id}")
        now = self.clock.now()
        with self.store.tx():
            rid = self.store.add_reply(
                message_id=None, customer_id=customer_id, channel=customer.channel,
                chat=customer.chat, text=text, kind="manual", tier=str(Tier.MANUAL),
                reason="merchant", model=None, trace={}, latency_ms=None, now=now,
                not_before=now)
            self.store.event("manual-reply", now, customer_id=customer_id, reply_id=rid)
        return rid

    def pause(self, customer_id: int, minutes: float | None = None) -> None:
        now = self.clock.now()
        mins = self.settings.engine.takeover_pause_min if minutes is None else minutes
        with self.store.tx():
            self._take_over(customer_id, now, reason="paused by the merchant")
            self.store.pause(customer_id, now + mins * 60, "paused by the merchant")

    def resume(self, customer_id: int) -> None:
        now = self.clock.now()
        with self.store.tx():
            self.store.pause(customer_id, None, None)
            self.store.event("resume", now, customer_id=customer_id)
        self._emit("resume", {"customer_id": customer_id})

    def update_handoff(self, handoff_id: int, state: str, note: str | None = None) -> None:
        now = self.clock.now()
        with self.store.tx():
            cid = self.store.update_handoff(handoff_id, state, now, note)
            if cid is None:
                raise ValueError(f"no handoff {handoff_id}")
            self.store.event(f"handoff-{state}", now, customer_id=cid, handoff_id=handoff_id)
        self._emit("handoff", {"id": handoff_id, "state": state, "customer_id": cid})

    # -- ask: one question straight through the pipeline --------------------------------------

    def ask(self, question: str, *, customer: str = "cli", channel: str = "ask") -> AskResult:
        """Answer one question now through the stages a channel's message goes through
        (intake's cleaning and presort, the pipeline's decision, the reply a decision sends),
        without aggregation or a channel: `alpha01 ask`, `alpha01 kb check`. Writes nothing: no
        customer, message, reply, handoff, event or rule hit. The asker's earlier questions in
        this process (by name) are the conversation the pipeline sees."""
        started = time.perf_counter()
        msg = Inbound(channel=channel, chat=customer, sender=customer, text=question,
                      key_hint=uuid.uuid4().hex)
        msg.text = intake.clean_text(msg.text)
        now = self.clock.now()
        history = self._ask_history.setdefault(customer, [])
        d = self._presort(msg, baseline=0.0, now=now, stale_after_s=0)
        if d is None:
            self._refresh_rules()
            d = self._think(msg.text, sender=customer,
                            history=history[-self.settings.engine.history_window:], now=now)
        latency = (time.perf_counter() - started) * 1000
        history.append(("user", msg.text))
        reply = self._outgoing(d)
        if reply is not None:
            history.append(("assistant", reply))
        trace = self._public_trace(d)
        return AskResult(reply=d.reply, tier=str(d.tier) if d.tier else None,
                         handoff=d.action is Action.HANDOFF,
                         passages=trace.get("passages", []), model=d.model,
                         latency_ms=latency, reason=d.reason, trace=trace)

    # -- listeners ----------------------------------------------------------------------------

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        for fn in self.listeners:
            try:
                fn(kind, data)
            except Exception:
                log.exception("listener failed on %s", kind)
