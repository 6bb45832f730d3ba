"""Durable identities for WeChat messages, which have none.

WeChat's UI ids change whenever a window redraws, and a window that opens shows its history
again. A message's key is therefore composed from what stays put: the chat, who said it, what
was said, the time separator above it (WeChat's own time marker, parsed to an absolute time by
the library) and its order among identical messages under that separator (`seq`). History that
re-appears with new ids composes the same keys, so intake's UNIQUE key drops it.

Within a run, a `ChatLog` also remembers the order of everything it has seen in a chat, and
lines a re-delivered stretch up against it (longest run of identical messages), so even a
window whose top separator scrolled away maps back onto the keys it had before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TIME_GAP_S = 300.0


@dataclass(slots=True)
class Seen:
    sig: tuple[str, ...]
    key: str
    ui_id: str | None
    ocr: bool = False  # read off a screenshot (no UI id): claimed by the library's copy later


@dataclass(slots=True)
class Composed:
    """One library message with its composed key; `marker_ts` is its section's time."""

    msg: Any
    key: str
    marker_ts: float | None
    seq: int


def is_marker(msg: Any) -> bool:
    return getattr(msg, "attr", "") == "time"


def signature(msg: Any) -> tuple[str, ...]:
    if is_marker(msg):
        return ("time", str(getattr(msg, "time", "") or msg.content))
    return (str(msg.attr), str(getattr(msg, "type", "")), str(getattr(msg, "sender", "")),
            str(msg.content))


def marker_time(msg: Any) -> float | None:
    raw = str(getattr(msg, "time", "") or "")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(raw, fmt).timestamp()
        except ValueError:
            continue
    return None


def compose_key(chat: str, sig: tuple[str, ...], marker: str, seq: int) -> str:
    raw = "\x1f".join((chat, *sig, marker, str(seq)))
    return "wx:" + hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()


class ChatLog:
    """Everything seen in one chat during this run, in window order."""

    def __init__(self, chat: str) -> None:
        self.chat = chat
        self.items: list[Seen] = []
        self.by_ui: dict[str, int] = {}
        self._marker = ""  # the current section's time marker
        self._marker_ts: float | None = None
        self._counts: dict[tuple[str, ...], int] = {}
        # set once the chat was read by OCR, whose time separators read differently from the
        # library's: an unknown separator is then passed over and matching goes on after it
        self.lenient_markers = False

    def __len__(self) -> int:
        return len(self.items)

    def feed(self, msgs: list[Any]) -> list[Composed]:
        """Take a batch in window order; return the messages not seen before, with keys."""
        fresh: list[Composed] = []
        rest = [m for m in msgs if not self._known_ui(m) and not self._claim_ocr(m)]
        pos = None  # where the last re-delivered run ended in self.items
        while rest:
            k, end = self._match(rest, pos)
            if k == 0:
                if self.lenient_markers and is_marker(rest[0]):
                    rest = rest[1:]  # not recorded: its place among the seen is unknown
                    continue
                break
            for i, m in enumerate(rest[:k]):
                seen = self.items[end - k + i]
                if m.id:
                    seen.ui_id = str(m.id)
                    self.by_ui[str(m.id)] = end - k + i
            rest, pos = rest[k:], end
        for m in rest:
            fresh.append(self._append(m))
        return [c for c in fresh if not is_marker(c.msg)]

    def _known_ui(self, m: Any) -> bool:
        return bool(m.id) and str(m.id) in self.by_ui and (
            self.items[self.by_ui[str(m.id)]].sig == signature(m))

    def _claim_ocr(self, m: Any) -> bool:
        """The library's copy of a message OCR read earlier (the first unclaimed one with the
        same signature) takes over its key instead of coming out as new."""
        if not m.id or is_marker(m):
            return False
        sig = signature(m)
        for i, seen in enumerate(self.items):
            if seen.ocr and seen.ui_id is None and seen.sig == sig:
                seen.ui_id = str(m.id)
                self.by_ui[str(m.id)] = i
                return True
        return False

    def _match(self, rest: list[Any], pos: int | None) -> tuple[int, int]:
        """Longest prefix of `rest` that is a contiguous run of seen items (latest wins).

        A single item counts only when it continues the previous run or is a time marker:
        a lone "在吗" equal to the last one seen is a customer asking twice.
        """
        sigs = [signature(m) for m in rest]
        best_k, best_end = 0, 0
        n = len(self.items)
        for start in range(n - 1, -1, -1):
            k = 0
            while k < len(sigs) and start + k < n and self.items[start + k].sig == sigs[k]:
                k += 1
            if k > best_k:
                best_k, best_end = k, start + k
        if best_k == 1 and not (sigs[0][0] == "time" or (pos is not None and best_end == pos + 1)):
            return 0, 0
        return best_k, best_end

    def _append(self, m: Any) -> Composed:
        sig = signature(m)
        if is_marker(m):
            self._marker, self._marker_ts, self._counts = sig[1], marker_time(m), {}
            key = compose_key(self.chat, sig, "", 0)
            seq = 0
        else:
            seq = self._counts.get(sig, 0)
            self._counts[sig] = seq + 1
            key = compose_key(self.chat, sig, self._marker, seq)
        self.items.append(Seen(sig, key, str(m.id) if m.id else None, ocr=not m.id))
        if m.id:
            self.by_ui[str(m.id)] = len(self.items) - 1
        return Composed(m, key, self._marker_ts, seq)
