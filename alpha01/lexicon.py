"""The words customers use for what a shop's documents call something else.

Three sources, merged into one `Lexicon`:

- **general**: Chinese retail and customer-service vocabulary that holds for any shop (几点关门 is
  营业时间, 包邮 is 免配送费), read from `data/lexicon.toml`; no product, no shop's wording;
- **the shop's own**: derived from its documents at ingest (`knowledge/shopwords.py`): product
  names with the aliases of their catalog rows, the paraphrases its FAQ sheet pairs;
- **the owner's**: `lexicon.txt` in the home directory, a plain file the owner (or the TUI's
  knowledge tester) writes: a line of synonyms, or a misspelling and its fix (`咖非 -> 咖啡`).

The lexicon expands full-text queries (the embedder sees the message as typed), lets coverage
count a synonym as the customer's word, and tells the guard a rewording from a new topic.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "lexicon.toml"
OWNER_FILE = "lexicon.txt"
# Catalog columns that give a product's other names: they help a customer find the row and are
# not said back to them.
ALIAS_HEADERS = ("别名", "又名", "俗称", "别称", "英文名", "英文", "其他叫法", "也叫", "alias",
                 "aliases", "aka", "english", "english name", "other names")

# A typo line of the owner's file: "咖非 -> 咖啡" (also => and →)
_TYPO_LINE = re.compile(r"^(.+?)\s*(?:->|=>|→)\s*(.+)$")
_SPLIT = re.compile(r"[,，、;；/\s=＝]+")
_LATIN = re.compile(r"[a-z]{2}")


@dataclass(frozen=True)
class Lexicon:
    """Customer words → the shop's terms. Immutable; `merged` combines sources."""

    # (customer words, the shop's terms for them)
    topics: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    # English words customers mix in, matched as whole words → the shop's terms
    english: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    # names of the same thing: any one in a message brings in the others
    aliases: tuple[tuple[str, ...], ...] = ()
    # misspelling → the right word (one way only)
    typos: tuple[tuple[str, str], ...] = ()
    # words whose same-sounding misspellings are read as them: an input method turns 营业时间 into
    # 营页时间 and 咖啡 into 咖非 (same pinyin, another character)
    sounds: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def general(cls) -> Lexicon:
        return _general()

    @classmethod
    def from_toml(cls, text: str, source: str = "") -> Lexicon:
        data = tomllib.loads(text)
        topics, english = [], []
        for t in data.get("topic", []):
            shop = tuple(t.get("shop", ()))
            if not shop:
                continue
            if t.get("customer"):
                topics.append((tuple(w.lower() for w in t["customer"]), shop))
            if t.get("english"):
                english.append((tuple(w.lower() for w in t["english"]), shop))
        heard = tuple(dict.fromkeys(w for words, terms in topics for w in (*words, *terms)
                                    if len(w) >= 2 and _CJK_WORD.fullmatch(w)))
        return cls(tuple(topics), tuple(english), sounds=heard,
                   sources=(source,) if source else ())

    @classmethod
    def from_owner_text(cls, text: str, source: str = OWNER_FILE) -> Lexicon:
        """The owner's file: `#` comments; `错字 -> 正字` lines; any other line is a group of
        names of one thing separated by commas, spaces or 、 (the first is the shop's)."""
        aliases: list[tuple[str, ...]] = []
        typos: list[tuple[str, str]] = []
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            m = _TYPO_LINE.match(line)
            if m:
                right = m.group(2).strip().lower()
                typos += [(w, right) for w in _words(m.group(1)) if w != right]
                continue
            names = _words(line)
            if len(names) >= 2:
                aliases.append(names)
        return cls(aliases=tuple(aliases), typos=tuple(typos), sources=(source,))

    @classmethod
    def from_owner_file(cls, path: Path) -> Lexicon:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return cls()
        return cls.from_owner_text(text, str(path))

    def merged(self, *others: Lexicon) -> Lexicon:
        out = self
        for o in others:
            out = Lexicon(out.topics + o.topics, out.english + o.english,
                          out.aliases + o.aliases, out.typos + o.typos,
                          tuple(dict.fromkeys(out.sounds + o.sounds)),
                          out.sources + o.sources)
        return out

    def __bool__(self) -> bool:
        return bool(self.topics or self.english or self.aliases or self.typos)

    # -- lookups ----------------------------------------------------------------------------

    def synonyms(self, query: str) -> list[tuple[str, tuple[str, ...]]]:
        """(a word of `query`, the terms the shop's data may use for it instead) for every
        entry the query uses."""
        heard = self.misheard(query.lower())
        # a misheard word counts as said: 营页 is 营业, and so 营业时间
        q = " ".join([query.lower(), *(word for _, word in heard)])
        latin = _LATIN.search(q) is not None
        found: list[tuple[str, tuple[str, ...]]] = []
        for words, terms in self.topics:
            found += [(w, terms) for w in words if w in q]
        if latin:
            for words, terms in self.english:
                found += [(w, terms) for w in words if _has_word(q, w)]
        for names in self.aliases:
            for n in names:
                if (latin and _has_word(q, n)) if n.isascii() else n in q:
                    # the index holds the shop's (Chinese) text
                    others = tuple(m for m in names if m != n and not m.isascii())
                    if others:
                        found.append((n, others))
        found += [(typo, (right,)) for typo, right in self.typos if typo in q]
        found += [(piece, (word,)) for piece, word in heard]
        return found

    def misheard(self, query: str) -> list[tuple[str, str]]:
        """(piece of `query`, the known word it sounds like) for pieces that are not words of
        this lexicon but sound exactly like one: 营页 → 营业, 咖非 → 咖啡. At most half
        the characters may differ, and a two-character piece only in one."""
        return _sound_index(self.sounds).find(query.lower())

    def alias_names(self, query: str) -> str:
        """The shop's names of the goods `query` names by another name or misspells."""
        asked = query.lower()
        found = [right for typo, right in self.typos if typo in asked]
        found += [word for _, word in self.misheard(asked)]
        q = " ".join([asked, *found])
        latin = _LATIN.search(q) is not None
        for names in self.aliases:
            if any((latin and _has_word(q, n)) if n.isascii() else n in q for n in names):
                found += [n for n in names if not n.isascii() and n not in asked]
        return " ".join(dict.fromkeys(found))

    def expand(self, query: str) -> str:
        """Terms to add to a full-text query for `query` (empty when nothing applies)."""
        return " ".join(dict.fromkeys(t for _, terms in self.synonyms(query) for t in terms))

    def covered_words(self, data: str) -> str:
        """The customer words for topics `data` covers under its own name (data says
        营业时间: 开门, 关门, 几点 … are covered too)."""
        low = data.lower()
        return " ".join(w for words, terms in self.topics
                        if any(t in low for t in terms) for w in words)


_CJK_WORD = re.compile(r"[\u3400-\u9fff]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


class _SoundIndex:
    """Words by their toneless pinyin, to find same-sounding misspellings."""

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = set(words)
        self.by_sound: dict[tuple[str, ...], list[str]] = {}
        self.sizes: set[int] = set()
        for w in words:
            key = _pinyin(w)
            if key is not None and 2 <= len(w) <= 6:
                self.by_sound.setdefault(key, []).append(w)
                self.sizes.add(len(w))

    def find(self, text: str) -> list[tuple[str, str]]:
        if not self.by_sound:
            return []
        out: list[tuple[str, str]] = []
        for run in _CJK_RUN.findall(text):
            for size in sorted(self.sizes, reverse=True):
                for i in range(len(run) - size + 1):
                    piece = run[i:i + size]
                    if piece in self.words:
                        continue
                    key = _pinyin(piece)
                    for word in self.by_sound.get(key, ()) if key else ():
                        differ = sum(a != b for a, b in zip(piece, word, strict=True))
                        if 1 <= differ <= max(1, size // 2) and (word, piece) not in out:
                            out.append((piece, word))
        # a piece inside a longer misheard piece is the same mistake (精简 in 珂璃精简)
        kept = [(p, w) for p, w in out
                if w not in text and not any(p != q and p in q for q, _ in out)]
        return kept


@functools.lru_cache(maxsize=8)
def _sound_index(words: tuple[str, ...]) -> _SoundIndex:
    return _SoundIndex(words)


def _pinyin(word: str) -> tuple[str, ...] | None:
    """Toneless pinyin of each character (its first reading); None when a character has none
    or pypinyin is not installed."""
    table = _pinyin_table()
    if table is None:
        return None
    out = []
    for ch in word:
        reading = table.get(ord(ch))
        if not reading:
            return None
        first = reading.split(",", 1)[0]
        out.append("".join(c for c in unicodedata.normalize("NFKD", first)
                           if not unicodedata.combining(c)).replace("ü", "v"))
    return tuple(out)


@functools.cache
def _pinyin_table() -> dict[int, str] | None:
    try:
        from pypinyin.pinyin_dict import pinyin_dict
    except ImportError:  # an optional nicety: without it, same-sounding words are not matched
        return None
    return pinyin_dict


def is_alias_header(header: str) -> bool:
    """A catalog column of other names for the product (别名, 英文名, aliases …)."""
    h = header.strip().lower()
    return any(h == a or (not a.isascii() and a in h) for a in ALIAS_HEADERS)


def add_owner_entry(path: Path, names: Iterable[str], typo: bool = False) -> str:
    """Append one entry to the owner's file: names of one thing (the first is the shop's), or
    with `typo` a misspelling and its fix. Returns the line written.

    Raises ValueError when fewer than two names are given or a name is not a word."""
    words = [w for w in (str(n).strip() for n in names) if w]
    if len(words) < 2 or (typo and len(words) != 2):
        raise ValueError("需要两个说法：顾客的说法和资料里的说法" if not typo
                         else "错别字需要两个词：打错的和正确的")
    if any(_SPLIT.search(w) or "#" in w for w in words):
        raise ValueError("每个说法是一个词，不能含空格、逗号或 #")
    line = f"{words[0]} -> {words[1]}" if typo else ", ".join(words)
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    with path.open("a", encoding="utf-8") as f:
        if fresh:
            f.write("# 店主的同义词和错别字：一行一组同一样东西的叫法；错别字写成 错字 -> 正字\n")
        f.write(line + "\n")
    return line


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.lower() for w in _SPLIT.split(text.strip()) if w))


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


@functools.cache
def _general() -> Lexicon:
    return Lexicon.from_toml(DATA.read_text(encoding="utf-8"), "general")


def resolve(lexicon: Lexicon | None) -> Lexicon:
    """`lexicon`, or the general one when none is given."""
    return lexicon if lexicon is not None else _general()


@functools.cache
def exception_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(refusals, exclusions) of a shop rule (`[exceptions]` in data/lexicon.toml): the words
    with which a rule leaves a case out ("不保修", "（偏远乡镇除外）")."""
    data = tomllib.loads(DATA.read_text(encoding="utf-8")).get("exceptions", {})
    return tuple(data.get("refusal", ())), tuple(data.get("exclusion", ()))
