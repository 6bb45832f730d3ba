"""Chinese-aware chunking: blocks → retrievable chunks.

- A heading starts a new chunk, and every chunk carries its heading path ("店铺介绍 > 营业时间"),
  so "几点关门" finds the section even when the body never says 营业时间.
- Text is packed sentence by sentence (。！？；… and line ends, closing quotes kept with their
  sentence) up to `max_chars`; a sentence is never cut unless it alone exceeds the limit, and
  then at a comma before anything cruder. Table rows are never split.
- Chunk ids hash the file name, the chunk text and its occurrence number, so re-ingesting an
  unchanged file gives the same ids and a changed file keeps the ids of its unchanged chunks.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from .formats import Block

# Passages found by units of about this many characters (see Chunk).
UNIT_CHARS = 160

_SENTENCE = re.compile(r"[^。！？!?；;…\n]*(?:[。！？!?；;…]+[”’」』）)\"']*|\n|$)")
_CLAUSE = re.compile(r"[^，,、：:]*(?:[，,、：:]|$)")


@dataclass
class Chunk:
    """A passage as shown to the model, and the smaller units it is found by.

    Search runs over `units` (one short section, or a few sentences of a long one, each with
    its heading path): short texts embed far more precisely than a packed passage. A hit on
    any unit returns the whole passage, so an answer spread over neighbouring short sections
    arrives in one piece ("small to big")."""

    text: str  # heading path + body: what is shown
    body: str
    headings: list[str]
    position: int
    locator: str
    units: list[str] = field(default_factory=list)


def stable_id(source: str, kind: str, key: str, occurrence: int) -> str:
    raw = f"{source}\x00{kind}\x00{key}\x00{occurrence}".encode()
    return hashlib.sha1(raw).hexdigest()[:20]


def assign_ids(source: str, kind: str, keys: list[str],
               seen: Counter[bytes] | None = None) -> list[str]:
    """Stable ids for `keys`; `seen` carries the occurrence counts over several calls (a file
    read in segments), keyed by a digest of each key so that it stays small."""
    seen = Counter() if seen is None else seen
    ids = []
    for key in keys:
        tag = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).digest()
        ids.append(stable_id(source, kind, key, seen[tag]))
        seen[tag] += 1
    return ids


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for m in _SENTENCE.finditer(text):
        piece = m.group(0)
        if not piece:
            continue
        if not piece.strip() and out:  # a line break after a full stop stays with it
            out[-1] += piece
        elif piece.strip():
            out.append(piece)
    return out


def pack(pieces: list[str], max_chars: int) -> list[str]:
    """Consecutive pieces joined into runs of at most `max_chars` (a piece longer than that
    stays whole, on its own)."""
    out, buf = [], ""
    for piece in pieces:
        if buf and len(buf) + len(piece) > max_chars:
            out.append(buf)
            buf = ""
        buf += piece
    if buf.strip():
        out.append(buf)
    return out


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    pieces: list[str] = []
    buf = ""
    for clause in (m.group(0) for m in _CLAUSE.finditer(sentence) if m.group(0)):
        while len(clause) > max_chars:  # no punctuation at all: a last-resort hard cut
            pieces.append(buf + clause[: max_chars - len(buf)])
            clause = clause[max_chars - len(buf) :]
            buf = ""
        if len(buf) + len(clause) > max_chars and buf:
            pieces.append(buf)
            buf = ""
        buf += clause
    if buf:
        pieces.append(buf)
    return pieces


@dataclass
class _Section:
    headings: list[str]
    pieces: list[tuple[str, str]]  # (text, locator): sentences and table rows, in order

    @property
    def size(self) -> int:
        return sum(len(t) for t, _ in self.pieces)


def _sections(blocks: list[Block], max_chars: int) -> list[_Section]:
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    current = _Section([], [])
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if block.heading:
            if current.pieces:
                sections.append(current)
            while stack and stack[-1][0] >= block.heading:
                stack.pop()
            stack.append((block.heading, text.replace("\n", " ")))
            current = _Section([h for _, h in stack], [])
            continue
        if current.pieces and not current.pieces[-1][0].endswith("\n"):
            current.pieces.append(("\n", block.locator))
        if block.table:
            rows = [r + "\n" for r in text.split("\n") if r.strip()]
            for row in rows:
                current.pieces.extend((p, block.locator) for p in _split_long(row, max_chars))
            continue
        for sentence in split_sentences(text):
            current.pieces.extend((p, block.locator) for p in _split_long(sentence, max_chars))
    if current.pieces:
        sections.append(current)
    return sections


def chunk_blocks(blocks: list[Block], max_chars: int = 360) -> list[Chunk]:
    """Pack sections into chunks of at most about `max_chars` characters.

    Small neighbouring sections under the same parent heading share a chunk (each keeps its own
    heading line), so a question whose answer spans two short sections (a zone's fee in one,
    its free-delivery threshold in the next) finds both in one passage. A long section is
    split between sentences, every piece carrying the section's heading path."""
    chunks: list[Chunk] = []
    group: list[_Section] = []
    unit_chars = max(60, min(UNIT_CHARS, max_chars))

    def units_of(headings: list[str], pieces: list[str]) -> list[str]:
        prefix = " > ".join(headings)
        out = pack(pieces, unit_chars)
        return [f"{prefix}\n{u.strip()}" if prefix else u.strip() for u in out if u.strip()]

    def emit(headings: list[str], body: str, locator: str,
             units: list[str] | None = None) -> None:
        body = body.strip()
        if not body:
            return
        prefix = " > ".join(headings)
        text = f"{prefix}\n{body}" if prefix else body
        chunks.append(Chunk(text, body, headings, len(chunks), locator,
                            units or units_of(headings, [body])))

    def flush_group() -> None:
        if not group:
            return
        units = [u for sec in group for u in units_of(sec.headings, [t for t, _ in sec.pieces])]
        if len(group) == 1:
            sec = group[0]
            emit(sec.headings, "".join(t for t, _ in sec.pieces), sec.pieces[0][1], units)
        else:
            parent = _common(group)
            parts = []
            for sec in group:
                own = " > ".join(sec.headings[len(parent):])
                body = "".join(t for t, _ in sec.pieces).strip()
                parts.append(f"{own}\n{body}" if own else body)
            emit(parent, "\n".join(parts), group[0].pieces[0][1], units)
        group.clear()

    for sec in _sections(blocks, max_chars):
        if sec.size > max_chars:
            flush_group()
            body: list[str] = []
            size = 0
            locator = ""
            for text, where in sec.pieces:
                if body and size + len(text) > max_chars:
                    emit(sec.headings, "".join(body), locator, units_of(sec.headings, body))
                    body, size = [], 0
                    if text == "\n":
                        continue
                if not body:
                    locator = where
                body.append(text)
                size += len(text)
            emit(sec.headings, "".join(body), locator, units_of(sec.headings, body))
            continue
        grouped = sum(s.size + len(" > ".join(s.headings)) for s in group)
        if group and (grouped + sec.size > max_chars
                      or _common(group + [sec]) != _common(group[:1] + [sec])
                      or len(_common(group + [sec])) < len(sec.headings) - 1):
            flush_group()
        group.append(sec)
    flush_group()
    return chunks


def _common(sections: list[_Section]) -> list[str]:
    """The heading path all `sections` share."""
    first = sections[0].headings
    n = len(first)
    for sec in sections[1:]:
        n = min(n, len(sec.headings))
        for i in range(n):
            if sec.headings[i] != first[i]:
                n = i
                break
    return first[:n]
