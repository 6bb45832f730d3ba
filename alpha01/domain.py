"""The value types that cross module boundaries: messages, passages, decisions, completions.

Plain dataclasses, no behaviour that touches I/O. Everything above this layer may import it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any


class Tier(enum.StrEnum):
    """Which answer tier produced a reply (cheapest first). Stored with every reply."""

    RULE = "rule"
    FAQ = "faq"
    LOCAL = "local"
    CLOUD = "cloud"
    HANDOFF = "handoff"
    FALLBACK = "fallback"
    MANUAL = "manual"


class Action(enum.StrEnum):
    """What a pipeline stage decided."""

    CONTINUE = "continue"  # hand the message to the next stage
    RESPOND = "respond"  # send `reply`; terminal
    HANDOFF = "handoff"  # send `reply` (if any) and open a handoff; terminal
    IGNORE = "ignore"  # no reply; terminal, `reason` says why


class MessageState(enum.StrEnum):
    """Life of an inbound message. Exactly one terminal state per message."""

    RECEIVED = "received"  # persisted, waiting for the aggregation window / the pipeline
    ANSWERED = "answered"  # terminal: a reply was planned (outbox row)
    HANDED_OFF = "handed_off"  # terminal: a human owns it
    IGNORED = "ignored"  # terminal: no reply, with a reason

    @property
    def terminal(self) -> bool:
        return self is not MessageState.RECEIVED


class OutboxState(enum.StrEnum):
    """Life of a reply. `sending` is written before the channel is called."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # the channel said no, every attempt
    UNKNOWN = "unknown"  # crashed mid-send and the channel cannot tell: never resent blindly
    CANCELLED = "cancelled"  # e.g. the owner took over before it went out


@dataclass(slots=True)
class Inbound:
    """One message as a channel saw it.

    Channels give no stable ids (WeChat's change whenever the window redraws), so `ui_id` is
    kept only for debugging. The durable identity is composed by intake from `key_hint`, when the
    channel has a stable one (web client ids, sim script ids), or else from chat, sender, text and
    the channel's time marker `ts` plus `seq` (the order among identical messages).
    """

    channel: str
    chat: str
    sender: str
    text: str
    ts: float | None = None
    seq: int = 0
    key_hint: str | None = None
    ui_id: str | None = None
    is_self: bool = False
    is_group: bool = False
    mentioned: bool = False
    kind: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Outbound:
    """A reply (or a manual/proactive message) on its way to a channel."""

    id: int
    channel: str
    chat: str
    text: str
    reply_to: int | None = None
    kind: str = "reply"
    attempts: int = 0
    member: str = ""  # in a group chat: the customer to @-mention / quote


@dataclass(slots=True)
class Passage:
    """A piece of shop knowledge found for a question."""

    text: str
    source: str
    score: float
    kind: str = "chunk"  # faq | chunk | product
    question: str | None = None
    answer: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "source": self.source,
            "score": round(float(self.score), 4),
            "kind": self.kind,
        }
        if self.kind == "faq":
            out["question"] = self.question
            out["answer"] = self.answer
        return out


@dataclass(slots=True)
class Completion:
    """What a model backend returned."""

    text: str
    model: str
    served_by: str  # backend name: fake | extractive | llamacpp | zhipu
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Decision:
    """A stage's verdict, with the reason and the trace that explain it."""

    action: Action
    reason: str
    reply: str | None = None
    tier: Tier | None = None
    trace: dict[str, Any] = field(default_factory=dict)
    # What the engine acts on, typed (the trace only explains): the merchant rule that decided
    # (its hit is counted), whether the customer opted out, the model that wrote the reply.
    rule_id: int | None = None
    opt_out: bool = False
    model: str | None = None

    @property
    def terminal(self) -> bool:
        return self.action is not Action.CONTINUE

    @classmethod
    def proceed(cls, reason: str = "", **trace: Any) -> Decision:
        return cls(Action.CONTINUE, reason, trace=trace)

    @classmethod
    def respond(cls, reply: str, tier: Tier, reason: str, **trace: Any) -> Decision:
        return cls(Action.RESPOND, reason, reply=reply, tier=tier, trace=trace)

    @classmethod
    def handoff(cls, reply: str | None, reason: str, **trace: Any) -> Decision:
        return cls(Action.HANDOFF, reason, reply=reply, tier=Tier.HANDOFF, trace=trace)

    @classmethod
    def ignore(cls, reason: str, **trace: Any) -> Decision:
        return cls(Action.IGNORE, reason, trace=trace)


@dataclass(slots=True)
class Customer:
    id: int
    channel: str
    chat: str
    name: str
    tags: list[str] = field(default_factory=list)
    paused_until: float | None = None
    handed_off: bool = False
    blocked: bool = False
    opted_out: bool = False


@dataclass(slots=True)
class Rule:
    id: int
    name: str
    match: str
    pattern: str
    action: str
    reply: str | None = None
    field: str = "text"
    priority: int = 100
    hours: str = "always"
    enabled: bool = True
    builtin: bool = False
    hits: int = 0

    def compiled(self) -> re.Pattern[str] | frozenset[str] | tuple[str, ...]:
        if self.match == "regex":
            return re.compile(self.pattern, re.IGNORECASE)
        parts = tuple(p.strip().lower() for p in self.pattern.split("|") if p.strip())
        return frozenset(parts) if self.match == "exact" else parts
