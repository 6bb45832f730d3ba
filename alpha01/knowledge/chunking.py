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
from dataclasses import dataclass

from .formats import Block

_SENTENCE = re.compile(r"[^。！？!?；;…\n]*(?:[。！？!?；;…]+[”’」』）)\"']*|\n|$)")
_CLAUSE = re.compile(r"[^，,、：:]*(?:[，,、：:]|$)")


@dataclass
class Chunk:
    text: str  # heading path + body: what is shown, embedded and indexed
    body: str
    headings: list[str]
    position: int
    locator: str


def stable_id(source: str, kind: str, key: str, occurrence: int) -> str:
    raw = f"{source}\x00{kind}\x00{key}\x00{occurrence}".encode()
    return hashlib.sha1(raw).hexdigest()[:20]


def assign_ids(source: str, kind: str, keys: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    ids = []
    for key in keys:
        ids.append(stable_id(source, kind, key, seen[key]))
        seen[key] += 1
    return ids


def split_sentences(text: str) -> list[str]:
    out = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]
    return [s for s in out if s.strip()]


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


def chunk_blocks(blocks: list[Block], max_chars: int = 360) -> list[Chunk]:
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []  # (level, heading)
    body: list[str] = []
    size = 0
    locator = ""

    def flush() -> None:
        nonlocal body, size, locator
        text_body = "".join(body).strip()
        if text_body:
            heads = [h for _, h in stack]
            prefix = " > ".join(heads)
            text = f"{prefix}\n{text_body}" if prefix else text_body
            chunks.append(Chunk(text, text_body, heads, len(chunks), locator))
        body, size, locator = [], 0, ""

    def add(piece: str, where: str) -> None:
        nonlocal size, locator
        if body and size + len(piece) > max_chars:
            flush()
        if not body:
            locator = where
        body.append(piece)
        size += len(piece)

    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if block.heading:
            flush()
            while stack and stack[-1][0] >= block.heading:
                stack.pop()
            stack.append((block.heading, text.replace("\n", " ")))
            continue
        if body and not body[-1].endswith("\n"):
            body.append("\n")
        if block.table:
            rows = [r + "\n" for r in text.split("\n") if r.strip()]
            header = rows[0] if len(rows) > 2 else ""
            for i, row in enumerate(rows):
                if i and header and not body and row is not header:
                    add(header, block.locator)  # a continued table repeats its header row
                for piece in _split_long(row, max_chars):
                    add(piece, block.locator)
            continue
        for sentence in split_sentences(text):
            for piece in _split_long(sentence, max_chars):
                add(piece, block.locator)
    flush()
    return chunks
