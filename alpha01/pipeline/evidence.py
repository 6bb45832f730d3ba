"""Evidence: the lines of the retrieved passages that bear on the question, best first.

Retrieval returns passages: a chunk of a document (a few sections, a table), an FAQ entry, a
product row. A small local model reads those badly: given a whole delivery chunk it quotes the
wrong zone's fee, given the first two chunks it never sees the third. So the passages are cut
into self-contained lines first, and only the lines that bear on the question are shown:

- a line of a document keeps its section heading ("配送时段 · 下午场：14:30-17:00…");
- a table row carries its column names ("日期：法定节假日；营业时间：10:00-20:00");
- an FAQ entry is one line (question and answer), a product row is one line.

Lines are ranked by how much of the question they cover (character bigrams, the measure the
full-text search uses), by embedding similarity when the knowledge base has an embedder, and by
whether a quantity in the question falls in a range the line states ("离店7公里" fits
"5-10公里"). Everything here is deterministic and costs milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..domain import Passage
from ..knowledge.chunking import pack, split_sentences
from ..lexicon import Lexicon, exception_words, resolve
from ..textmatch import (
    FUNCTION_CHARS,
    coverage,
    figures,
    normalise,
    normalise_query,
    query_bigrams,
    supported,
)
from .catalog import product_of, say_row

# (question, texts) -> similarity of each text to the question, about -1..1
Similarity = Callable[[str, list[str]], Sequence[float]]

COVERAGE_WEIGHT = 0.7
SIMILARITY_WEIGHT = 0.3
RANGE_BONUS = 0.15


@dataclass(frozen=True, slots=True)
class Evidence:
    text: str  # the line, self-contained (for an FAQ entry: its answer)
    heading: str  # the section it sits in ("" when none; for an FAQ entry: its question)
    source: str  # file name
    passage: int  # position of its passage in the retrieval list
    score: float = 0.0
    faq: bool = False
    # a table or catalog row: (column, cell) pairs, the row's name first
    cells: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        """The line as the model reads it."""
        if self.faq:
            return f"问：{self.heading} 答：{self.text}"
        return f"【{self.heading}】{self.text}" if self.heading else self.text


# A heading line inside a chunk: "一、配送范围…", "第三章", "（二）会员", "【营业时间】"…
_NUMBERED_HEADING = re.compile(
    r"^(?:第[一二三四五六七八九十百\d]+[章节部分条]|[一二三四五六七八九十]+[、.．]|"
    r"[（(][一二三四五六七八九十\d]+[)）]|【[^】]{1,20}】)")
_SENTENCE_END = "。！？!?；;，,：:"
_BULLET = re.compile(r"^(?:[-*•·]|\d{1,2}[.、)）](?!\d))\s*")
_LONG = 160  # a line longer than this is split into its sentences


def _is_heading(line: str, next_line: str | None) -> bool:
    if next_line is None:
        return False
    if _NUMBERED_HEADING.match(line) and len(line) <= 40:
        return True
    return (len(line) <= 20 and line[-1] not in _SENTENCE_END and "|" not in line
            and "：" not in line and ":" not in line and not _BULLET.match(line))


def split(passage: Passage, index: int = 0) -> list[Evidence]:
    """The self-contained lines of one passage, in reading order."""
    source = passage.source or ""
    if passage.kind == "faq" and passage.question and passage.answer:
        return [Evidence(passage.answer.strip(), passage.question.strip(), source, index,
                         faq=True)]
    if passage.kind == "product":
        product = product_of(passage)
        cells = ((("", product[0]),) + tuple(product[1].items())) if product else ()
        return [Evidence(" ".join(passage.text.split()), "", source, index, cells=cells)]
    lines = _unwrap([ln.strip() for ln in passage.text.splitlines() if ln.strip()])
    out: list[Evidence] = []
    heading = ""
    header: list[str] | None = None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if i == 0 and " > " in line:  # the chunk's heading path
            heading = line.rsplit(" > ", 1)[-1].strip()
            continue
        if "|" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = cells
                continue
            pairs: tuple[tuple[str, str], ...] = ()
            if len(cells) == len(header):
                line = "；".join(f"{h}：{c}" if h and c else c for h, c in zip(header, cells,
                                                                               strict=True))
                pairs = tuple(zip(header, cells, strict=True))
            else:
                line = "；".join(c for c in cells if c)
            out.append(Evidence(line, heading, source, index, cells=pairs))
            continue
        header = None
        if _is_heading(line, nxt):
            heading = line
            continue
        line = _BULLET.sub("", line)
        for piece in _pieces(line):
            out.append(Evidence(piece, heading, source, index))
    return out


_OPEN_END = "。！？!?；;）)】」』”\""


def _unwrap(lines: list[str]) -> list[str]:
    """Join a list item that a PDF (or a fixed-width text) broke across lines: "- …无法保" +
    "证任何产品…" is one sentence, and a reader of either half loses the fact in it. In a
    bulleted list a line without a bullet continues the item before it."""
    out: list[str] = []
    item = False  # the last line kept is a bulleted item still open
    for i, line in enumerate(lines):
        prev = out[-1] if out else ""
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if (item and prev[-1:] not in _OPEN_END and "|" not in line
                and not _BULLET.match(line) and not _NUMBERED_HEADING.match(line)
                and not (_is_heading(line, nxt) and not _BULLET.match(nxt or "-"))):
            # (a short unpunctuated line before a paragraph is the next section's heading:
            # "- 付款：现金都可以" + "售后服务" + "…" are three lines, not one)
            out[-1] = prev + line
            continue
        out.append(line)
        item = bool(_BULLET.match(line)) and "|" not in line
    return out


def _pieces(line: str) -> list[str]:
    if len(line) <= _LONG:
        return [line]
    return pack(split_sentences(line), _LONG)


# -- quantities and ranges ----------------------------------------------------------------

_UNIT = r"(公里|km|千米|米|元|块|斤|公斤|kg|克|g|份|盒|箱|个|天|小时|分钟|人)"
_NUM = r"(\d+(?:\.\d+)?)"
_UNIT_ALIAS = {"km": "公里", "千米": "公里", "块": "元", "kg": "公斤"}
_QUANTITY = re.compile(_NUM + r"\s*" + _UNIT)
_RANGE = re.compile(_NUM + r"\s*" + _UNIT + r"?\s*[-~～至到]\s*" + _NUM + r"\s*" + _UNIT)
_WITHIN = re.compile(_NUM + r"\s*" + _UNIT + r"\s*(?:以内|以下|之内|内)")
_ABOVE = re.compile(r"(?:超过|超出|大于|多于|以上)\s*" + _NUM + r"\s*" + _UNIT
                    + r"|" + _NUM + r"\s*" + _UNIT + r"\s*(?:以上|起)")


def _unit(u: str | None) -> str:
    u = (u or "").lower()
    return _UNIT_ALIAS.get(u, u)


def quantities(text: str) -> list[tuple[float, str]]:
    """Numbers with a unit in a question: "住得离店7公里左右" → [(7.0, "公里")]."""
    return [(float(n), _unit(u)) for n, u in _QUANTITY.findall(normalise_query(text))]


def ranges(text: str) -> list[tuple[float, float, str]]:
    """Ranges a shop line states: "5-10公里" → (5, 10), "5公里以内" → (0, 5), "超过15公里" →
    (15, inf)."""
    text = normalise_query(text)
    out: list[tuple[float, float, str]] = []
    for lo, u1, hi, u2 in _RANGE.findall(text):
        out.append((float(lo), float(hi), _unit(u2 or u1)))
    for n, u in _WITHIN.findall(text):
        out.append((0.0, float(n), _unit(u)))
    for m in _ABOVE.finditer(text):
        n, u = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        out.append((float(n), float("inf"), _unit(u)))
    return out


def range_rows(question: str, lines: list[Evidence]) -> tuple[list[Evidence], list[Evidence]]:
    """The lines whose range holds a quantity of the question ("离店7公里": "5-10公里"),
    narrowest range first, and the lines that state a range in the same unit that does not
    hold it (the neighbouring rows)."""
    asked = quantities(question)
    units = {u for _, u in asked}
    fit: list[tuple[float, int, Evidence]] = []
    misfit: list[Evidence] = []
    for i, e in enumerate(lines):
        width = _fit_width(asked, e.text)
        if width is not None:
            fit.append((width, i, e))
        elif any(unit in units for _, _, unit in ranges(e.text)):
            misfit.append(e)
    fit.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in fit], misfit


def _fit_width(asked: list[tuple[float, str]], text: str) -> float | None:
    """The width of the narrowest range of `text` that holds a quantity of the question in
    the same unit (None: none does)."""
    best: float | None = None
    for lo, hi, unit in ranges(text):
        for value, u in asked:
            if u == unit and (lo < value <= hi or (lo == 0 and value <= hi)):
                width = hi - lo
                best = width if best is None else min(best, width)
    return best


def _range_fit(asked: list[tuple[float, str]], text: str) -> float:
    """1 when a quantity of the question lies in a range of `text` with the same unit."""
    return 1.0 if asked and _fit_width(asked, text) is not None else 0.0


# -- ranking -----------------------------------------------------------------------------


def rank(question: str, items: list[Evidence], similarity: Similarity | None = None,
         lexicon: Lexicon | None = None) -> list[Evidence]:
    """`items` scored against `question`, best first (ties keep retrieval order)."""
    if not items:
        return []
    # the shop's own words for the customer's (包邮 → 免配送费, 中秋 → 法定节假日) count too
    grams = query_bigrams(question) | query_bigrams(resolve(lexicon).expand(question))
    asked = quantities(question)
    texts = [f"{e.heading} {e.text}".strip() for e in items]
    sims: Sequence[float] | None = None
    if similarity is not None:
        try:
            sims = similarity(question, texts)
        except Exception:  # ranking must not fail because the embedder did
            sims = None
    scored = []
    for i, (e, text) in enumerate(zip(items, texts, strict=True)):
        cov = coverage(grams, text)
        if sims is not None:
            score = COVERAGE_WEIGHT * cov + SIMILARITY_WEIGHT * max(0.0, float(sims[i]))
        else:
            score = cov
        score += RANGE_BONUS * _range_fit(asked, e.text)
        scored.append((score, i, e))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [Evidence(e.text, e.heading, e.source, e.passage, round(s, 4), e.faq, e.cells)
            for s, _, e in scored]


def lines_of(passages: list[Passage]) -> list[Evidence]:
    """All lines of `passages` in reading order, each text once."""
    items: list[Evidence] = []
    seen: set[str] = set()
    for i, p in enumerate(passages):
        for e in split(p, i):
            key = re.sub(r"\s+", "", e.text)
            if key and key not in seen:
                seen.add(key)
                items.append(e)
    return items


def select(question: str, passages: list[Passage], *, max_chars: int, max_items: int = 8,
           similarity: Similarity | None = None,
           lexicon: Lexicon | None = None) -> list[Evidence]:
    """The best lines of `passages` for `question`, within `max_chars` rendered characters."""
    chosen: list[Evidence] = []
    budget = max_chars
    for e in rank(question, lines_of(passages), similarity, lexicon):
        if len(chosen) >= max_items:
            break
        size = len(e.render())
        if chosen and size > budget:
            continue
        chosen.append(e)
        budget -= size
    return chosen


_LABEL = re.compile(r"^([^：:；;，,。\s]{1,4})[：:]")


# A label that names a code: A区, 3号, or a Chinese numeral with a code word (二区, 三档).
_CODE_LABEL = re.compile(r"[A-Za-z0-9]|^[一二三四五六七八九十]+[区档级号类组]$")


def definitions(reply: str, lines: list[Evidence]) -> list[Evidence]:
    """Lines that define a code the reply uses but does not explain: "二区支持半日达" says
    nothing to a customer who does not know that "二区：5-10公里". A code is a short label
    with a letter or digit in it (A区, B区, 1号店), defined by a line that starts with it.
    `lines` are best all lines of the retrieved passages: the model's few rarely hold the
    definition too."""
    found: list[Evidence] = []
    seen: set[str] = set()
    for e in lines:
        m = _LABEL.match(e.text)
        label = m.group(1) if m else ""
        if (not label or label in seen or not _CODE_LABEL.search(label)
                or label not in reply):
            continue
        seen.add(label)
        pool = figures(normalise(reply))
        if all(supported(f, pool) for f in figures(normalise(e.text))):
            continue  # the reply already says what it is
        found.append(e)
    return found[:2]


def code_rules(chosen: list[Evidence], lines: list[Evidence], question: str,
               lexicon: Lexicon | None = None) -> list[Evidence]:
    """The other rules of a code a chosen line defines, where they speak of what the customer
    asked and the chosen lines do not: "二区：4-8公里，配送费10元" answers "离店6公里 买100要付
    运费吗" only with "二区订单满128元免配送费" beside it. The inverse of `definitions`."""
    found: list[Evidence] = []
    said = " ".join(f"{e.heading} {e.text}" for e in chosen)
    for e in chosen:
        m = _LABEL.match(e.text)
        label = m.group(1) if m else ""
        if not label or not _CODE_LABEL.search(label):
            continue
        for other in lines:
            if (other in chosen or other in found or label not in other.text
                    or _LABEL.match(other.text) and _LABEL.match(other.text).group(1) == label):
                continue
            new = [t for _, terms in resolve(lexicon).synonyms(question) for t in terms
                   if t in other.text and t not in e.text]
            new += [g for g in content_pairs(question) if g in other.text and g not in said]
            if new:
                found.append(other)
    return found[:2]


def figures_taken(reply: str, line: Evidence, besides: Evidence | None = None,
                  question: str = "") -> int:
    """How many figures of `reply` `line` states, not counting those `besides` states as
    well, nor the customer's own ("离店7公里"), nor those that say little: 1 and 2, and long
    numbers, which are phone or order numbers rather than a rule's figures."""
    pool = figures(normalise(line.text))
    other = figures(normalise(besides.text)) if besides is not None else []
    own = {f.raw for f in figures(normalise(question))}
    return sum(1 for f in figures(normalise(reply))
               if (f.kind != "number" or 2 < f.value < 100_000) and f.raw not in own
               and supported(f, pool) and not (other and supported(f, other)))


def content_pairs(text: str) -> set[str]:
    """The character pairs of `text` that say something: pairs of function characters (可以,
    不可) say nothing about which line a reply restates."""
    return {g for g in query_bigrams(text) if len(g) == 2 and not g.isascii()
            and not (g[0] in FUNCTION_CHARS and g[1] in FUNCTION_CHARS)}


_CLAUSE = re.compile(r"[，,。；;：:、（）()【】\n]")
_EXCEPT_AROUND = re.compile(r"除(?:了)?([^，,。；;：:、（）()]{1,12}?)(?:以)?外")


def excluded_cases(text: str) -> list[str]:
    """The cases a rule leaves out, as written: "免费上门安装（偏远乡镇除外）" → 偏远乡镇, "除定制款
    外七天无理由退换" → 定制款, "店庆周全场8.8折，烟酒不在此列" → 烟酒."""
    _, exclusions = exception_words()
    cases = [m.group(1) for m in _EXCEPT_AROUND.finditer(text)]
    for word in exclusions:
        at = text.find(word)
        while at > 0:
            clause = _CLAUSE.split(text[:at])[-1].strip()
            if clause and not clause.startswith("除"):
                cases.append(clause[-16:])
            at = text.find(word, at + len(word))
    return cases


def refuses(line: Evidence) -> bool:
    """Whether the line refuses or leaves out a case ("人为损坏不保修", "开封后不退不换")."""
    refusals, exclusions = exception_words()
    return any(w in line.text for w in (*refusals, *exclusions))


def line_pairs(line: Evidence) -> set[str]:
    """The word pairs of a line with its heading (what a question's words are looked up in)."""
    return query_bigrams(f"{line.heading} {line.text}")


def own_words(reply: str, question: str) -> set[str]:
    """The word pairs of the reply that are not the customer's own."""
    return content_pairs(reply) - query_bigrams(question)


def bare(reply: str) -> bool:
    """A yes or no and nothing else ("可以。", "不行", "有的"): it says which way, not what
    the shop's rule is."""
    words = re.sub(r"[\W_]+", "", reply)
    return 0 < len(words) <= 4 and not content_pairs(reply) and not figures(normalise(reply))


_YES_NO = re.compile(r"^(?:可以|能|有|行|是|对|好的|不|没|别)")


def echo(reply: str, question: str) -> bool:
    """A yes or no that only repeats the customer's words ("可以刷卡。" to "可以刷卡吗"): as
    bare as "可以", it says which way but none of the shop's terms."""
    said = normalise(reply)
    return (bool(_YES_NO.match(said)) and not figures(said) and bool(content_pairs(reply))
            and not own_words(reply, question))


def words_added(reply: str, line: Evidence, before: Sequence[Evidence], question: str) -> int:
    """How many word pairs of the reply, not the customer's own, `line` has and none of the
    lines `before` has."""
    mine = own_words(reply, question) & line_pairs(line)
    for e in before:
        mine -= line_pairs(e)
    return len(mine)


def share(reply: str, line: Evidence) -> float:
    """The part of the reply's words (character bigrams) that `line` has too."""
    grams = content_pairs(reply)
    if not grams:
        return 0.0
    return len(grams & line_pairs(line)) / len(grams)


def own_share(reply: str, line: Evidence, question: str) -> float:
    """The part of the reply's own words (not the customer's, two at least) that `line` has:
    "茶包免费附赠，茶包不用另外收钱" adds 免费附赠 to the words of "茶包要另外收钱吗", and
    the line it comes from has them, though most of the reply is the customer's own."""
    own = own_words(reply, question)
    mine = own & line_pairs(line)
    return len(mine) / len(own) if len(mine) >= 2 else 0.0


# Of the words a reply adds to the customer's own, the share a line must have to count as
# restated (with two words at least).
OWN_SHARE = 0.2


def paraphrased(reply: str, lines: list[Evidence], question: str = "") -> list[Evidence]:
    """The shown lines `reply` restates, best first: a line it takes a figure from (the same
    value: 18:30 in "配送在18:30-20:30之间"), or whose words make up most of it (two or more
    of its character bigrams and a third of them, or all of a short reply's: "智利。").
    A figure the customer said ("下午四点多") ties a reply that repeats it to no line, and
    neither do the customer's own words the reply repeats ("一套杯子碎了两个，可以…"): they are
    in every line the customer's question found: what the reply adds to them decides too."""
    grams = content_pairs(reply)
    own = own_words(reply, question)
    found: list[tuple[float, int, Evidence]] = []
    for i, e in enumerate(lines):
        words = line_pairs(e)
        shared = len(grams & words)
        shared_own = len(own & words)
        share = shared / len(grams) if grams else 0.0
        taken = figures_taken(reply, e, None, question)
        if (taken or (shared >= 2 and share >= 1 / 3) or (grams and shared == len(grams))
                or (shared_own >= 2 and shared_own / len(own) >= OWN_SHARE)):
            found.append((taken + share + (shared_own / len(own) if own else 0.0), -i, e))
    found.sort(key=lambda t: (-t[0], -t[1]))
    return [e for _, _, e in found]


def missed_terms(question: str, line: Evidence, used: list[Evidence],
                 lexicon: Lexicon | None = None) -> list[str]:
    """The shop's words for what the customer asked that `line` has and the lines of the reply
    do not, though they speak of the same thing: 专票 is 发票 or 专用发票 in the shop's words,
    and a reply from the 普通发票 line (发票 but not 专用发票) answers a neighbouring question."""
    said = " ".join(f"{e.heading} {e.text}" for e in used)
    text = f"{line.heading} {line.text}"
    by_word: dict[str, list[tuple[str, ...]]] = {}
    for word, terms in resolve(lexicon).synonyms(question):
        by_word.setdefault(word, []).append(terms)
    missed: list[str] = []
    for entries in by_word.values():
        # the reply must speak of the word under one entry (发票) and the line name it under
        # another, narrower one (专用发票); the terms of one entry are one topic, not rivals
        spoken = [terms for terms in entries if any(t in said for t in terms)]
        if not spoken:
            continue  # the reply is on another topic ("几点" → 营业时间 of a delivery slot)
        for terms in entries:
            if terms in spoken:
                continue
            missed += [t for t in terms if t not in question and t in text and t not in said]
    return list(dict.fromkeys(missed))


def speaks_of(question: str, line: Evidence, lexicon: Lexicon | None = None) -> bool:
    """Whether `line` has anything to do with the question: a content word (character pair)
    of the question, or the shop's term for one (几点 → 营业时间). A line that only shares a
    figure with the model's reply (the arrival date of one pre-order row, for a question
    about another product) is not an answer to it."""
    text = _normalised_line(line)
    asked = {g for g in query_bigrams(question) if len(g) == 2 and not g.isascii()
             and not (g[0] in FUNCTION_CHARS and g[1] in FUNCTION_CHARS)}
    if any(g in text for g in asked):
        return True
    ascii_words = {g for g in query_bigrams(question) if g.isascii() and len(g) >= 2}
    if any(w in text for w in ascii_words):
        return True
    # the shop's term for a customer's word counts in the line itself: a section heading
    # ("配送时段（法定节假日除外）") names a topic for all its lines, not what each answers
    own = normalise_query(line.text)
    return any(t in own for _, terms in resolve(lexicon).synonyms(question) for t in terms)


def _normalised_line(line: Evidence) -> str:
    return normalise_query(f"{line.heading} {line.text}")


# -- saying a line to a customer ----------------------------------------------------------

_HEADING_NUMBER = re.compile(r"^(?:第[一二三四五六七八九十百\d]+[章节部分条]|[一二三四五六七八九十]+[、.．]|"
                             r"[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．])\s*")
_PARENTHESES = re.compile(r"[（(][^）)]*[）)]")
_SHORT_LINE = 30
_OWN_LABEL = re.compile(r"^[^，。；：:]{1,8}[：:]")  # "B区：…", "地址：…" say what they are


def speak(e: Evidence) -> str:
    """A line as a shop assistant says it, every figure as the shop wrote it: an FAQ entry's
    answer; a table or catalog row as a sentence ("周六、周日，营业时间09:00-21:00。"); a short
    line of a section with the section's name in front ("坏果售后：…30%的，可以申请整单退款"),
    unless it names itself ("B区：3-6公里…")."""
    if e.faq:
        return _end(e.text)
    if e.cells:
        name = e.cells[0][1]
        return say_row(name, {h: c for h, c in e.cells[1:] if h})
    text = e.text.strip()
    topic = _PARENTHESES.sub("", _HEADING_NUMBER.sub("", e.heading)).strip(" ：:·")
    if (topic and len(text) <= _SHORT_LINE and topic not in text and len(topic) <= 12
            and not _OWN_LABEL.match(text)):
        text = f"{topic}：{text}"
    return _end(text)


def _end(text: str) -> str:
    """A sentence's end: a list item's "；" or "，" (三区订单满158元免运费；) becomes "。"."""
    text = text.strip().rstrip("；;，,、：:")
    return text if text[-1:] in "。！？!?）)" else text + "。"
