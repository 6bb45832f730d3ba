"""Intake: clean a channel message, compose its durable dedupe key, and pre-sort it.

Channels give no stable ids, so the key is composed from what they do give. Re-delivery of the
same message (history re-appearing, a redraw with new UI ids, a restart) composes the same key,
and the UNIQUE (channel, dedupe_key) constraint makes the second insert a no-op.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from ..domain import Inbound

# C0/C1 control characters except tab and newline; also the Unicode bidi overrides that can make
# a message display differently from what it says.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
# Hard ceiling on what is stored at all; longer text is cut (and handed to a human).
STORE_MAX_CHARS = 20_000
NON_TEXT_IGNORED = frozenset({"sticker", "emotion", "system", "recall"})


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()[:STORE_MAX_CHARS]


def dedupe_key(msg: Inbound) -> str:
    """The durable identity of a message within its channel."""
    if msg.key_hint:
        return "h:" + msg.key_hint
    ts = "" if msg.ts is None else f"{msg.ts:.3f}"
    raw = "\x1f".join((msg.chat, msg.sender, "1" if msg.is_self else "0", msg.kind,
                       msg.text, ts, str(msg.seq)))
    return "c:" + hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()


def presort(msg: Inbound, *, baseline: float, now: float, stale_after_s: float,
            max_chars: int) -> tuple[str, str] | None:
    """Decide at once the messages that never reach the pipeline.

    Returns ("ignored" | "handoff", reason), or None when the message goes on.
    """
    if msg.ts is not None and msg.ts < baseline:
        return "ignored", "history"  # older than the channel's start baseline: never answered
    if msg.ts is not None and stale_after_s and now - msg.ts > stale_after_s:
        return "ignored", "stale"
    if msg.kind != "text":
        if msg.kind in NON_TEXT_IGNORED:
            return "ignored", f"non-text:{msg.kind}"
        return "handoff", f"non-text:{msg.kind}"  # a photo of a broken item needs a human
    if not msg.text:
        return "ignored", "empty"
    if len(msg.text) > max_chars:
        return "handoff", "too-long"
    return None
