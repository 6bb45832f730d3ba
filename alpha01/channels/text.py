"""Text helpers every channel may need."""

from __future__ import annotations

_BREAKS = ("\n\n", "\n", "。", "！", "？", "!", "?", "；", ";", "，", ",", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` characters at the most natural break.

    Prefers paragraph ends, then line ends, then sentence ends, then commas; cuts hard only
    when a single run has no break at all. Parts are stripped; joining them loses only the
    whitespace at the cuts.
    """
    text = text.strip()
    if limit <= 0 or len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for mark in _BREAKS:
            at = window.rfind(mark)
            if at >= limit // 3:  # a break too near the start would leave a tiny part
                cut = at + len(mark)
                break
        if cut <= 0:
            cut = limit
        part, rest = rest[:cut].strip(), rest[cut:].strip()
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts
