"""Catalog lookup: which of the shop's catalog rows a question names, and how a row is said.

A price, stock or origin question about products the question names is answered from the rows
themselves, every figure as the merchant wrote it, no model involved. The hard part is knowing
which rows the question names, and when it names none:

- **distinctive words only**: a piece of a product's name counts when it picks out few rows and
  the shop's own writing does not use it everywhere. In a tea shop 茶 is in half the names and
  冲泡 on every page, so neither names 冲泡杯; 龙井 or 普洱 do. Both measures come from
  the shop's data (`products`, `doc_count`), not from a word list;
- **model and variant words**: letters and numbers name models (13, 13 Pro, 13 mini). The row
  whose distinguishing words are exactly the customer's wins; when none is ("13 Pro Max", "iPad"
  in a phone catalog, "15" where only the 15 Pro is listed) the shop does not list that
  product, and the question is handed to the owner rather than answered with a neighbouring
  row's figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..domain import Passage
from ..intent import catalog_intent, without_catalog_words
from ..lexicon import Lexicon, is_alias_header, resolve
from ..textmatch import normalise_query

Product = tuple[str, dict[str, str]]  # (name, columns)

# A name piece in more rows than this is a category word (茶叶, 手机壳), not a name.
MAX_ROWS_PER_PIECE = 3
# A name piece the shop's documents use in more passages than this is an everyday word of the
# shop (冲泡 in a tea shop, 屏幕 in a repair shop): the customer may mean anything by it.
MAX_DOC_PASSAGES = 2
MAX_ROWS = 3

_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")
_ASCII_TOKEN = re.compile(r"[a-z]+|[0-9]+(?:\.[0-9]+)?")  # iphone13 → iphone, 13
_ASCII_RUN = re.compile(r"[a-z0-9]+(?:[ \-+._][a-z0-9]+)*")
# English words a customer writes around a model name; never part of one
_ENGLISH_STOP = frozenset(
    "a an and are can do does for has have how i in is it me much my of on or pls please "
    "price prices the to what you your cost costs screen battery need want any got there "
    "this that with".split())


@dataclass
class Lookup:
    """The rows a question names (best first), or the product it names that no row lists."""

    rows: list[Product] = field(default_factory=list)
    unlisted: str = ""


def lookup(question: str, catalog: Sequence[Product], *,
           doc_count: Callable[[str], int] | None = None,
           lexicon: Lexicon | None = None) -> Lookup:
    """The catalog rows `question` names. `doc_count(word)` says in how many of the shop's
    non-catalog passages a word occurs (None: not known, every piece counts)."""
    own = normalise_query(without_catalog_words(question))
    topic = f"{own} {resolve(lexicon).alias_names(own)}"
    names = [(p, normalise_query(p[0])) for p in catalog]
    all_names = [n for _, n in names]
    # the customer's own model words decide; an alias's only when they wrote none (the alias
    # of the iPhone 14 also matches inside "iPhone 14 Plus")
    verdict = _models(own, all_names)
    if verdict.allowed is None and not verdict.unlisted:
        verdict = _models(topic, all_names)
    if verdict.unlisted:
        return Lookup(unlisted=verdict.unlisted)
    scored: list[tuple[float, int, Product]] = []
    telling: dict[str, bool] = {}  # piece → distinctive, once per question
    for i, (product, name) in enumerate(names):
        if verdict.allowed is not None and i not in verdict.allowed:
            continue
        if not (verdict.exact and i in verdict.exact) and not any(
                name[j:j + 2] in topic for j in range(len(name) - 1)):
            continue  # shares no two characters with the question: cheap to rule out
        score = _cjk_score(name, topic, all_names, doc_count, telling)
        if i in (verdict.exact or ()):
            score += 10
        if score > 0:
            scored.append((score, -i, product))
    if not scored:
        return Lookup()
    if verdict.exact:
        # "小米14" where the iPhone 14 is listed too: the model words fit both, the Chinese
        # brand word names one
        branded = {i for i in verdict.exact
                   if any(run in topic for run in _CJK_RUN.findall(names[i][1]))}
        if branded:
            scored = [t for t in scored if -t[1] not in verdict.exact or -t[1] in branded]
    scored.sort(key=lambda t: (-t[0], -t[1]))
    rows = [p for _, _, p in scored]
    kept, asked = _facet_rows(topic, rows, catalog)
    if asked and not kept:
        # "Mate 60 换后盖" where the list has 换后盖 only for other models: no row answers it
        return Lookup(unlisted=f"{rows[0][0]} {asked}")
    return Lookup(rows=kept[:MAX_ROWS])


def _facet_rows(topic: str, rows: list[Product], catalog: Sequence[Product]
                ) -> tuple[list[Product], str]:
    """`rows` narrowed to the service, size or kind the question asks for, when the catalog
    lists its products once per such value (a repair list: one row per model and repair) and
    the question names one of the values. Returns (rows, the value asked: "" when none)."""
    for column, values in _facets(catalog).items():
        asked = [v for v in values if v in topic]
        if not asked:
            continue
        # the longest value named wins ("换屏" inside "换屏幕" and a "屏" value)
        asked.sort(key=len, reverse=True)
        wanted = {v for v in asked if not any(v != w and v in w for w in asked)}
        return [r for r in rows if _core(r[1].get(column, "")) in wanted], asked[0]
    return rows, ""


def _facets(catalog: Sequence[Product]) -> dict[str, set[str]]:
    """Columns that tell rows of one product apart (the product's name repeats, the column's
    value differs), with their values: 维修项目 in a repair list, 尺寸 in a cake list. Not
    prices, notes, stock states or other names."""
    by_name: dict[str, list[dict[str, str]]] = {}
    for name, fields in catalog:
        by_name.setdefault(name, []).append(fields)
    repeated = [rows for rows in by_name.values() if len(rows) > 1]
    if not repeated:
        return {}
    facets: dict[str, set[str]] = {}
    for column in repeated[0][0]:
        low = column.lower()
        if is_alias_header(column) or any(k in low for k in _PRICE + _NOTE):
            continue
        cores = [[_core(r.get(column, "")) for r in rows] for rows in repeated]
        if all(len(set(c)) == len(c) and all(_FACET_VALUE.search(v) for v in c)
               and not any(catalog_intent(v) for v in c) for c in cores):
            facets[column] = {_core(f.get(column, "")) for _, f in catalog} - {""}
    return facets


# a facet value names a kind in words: two Chinese characters at least (改短, 大衣), or one
# standing alone (裤, 裙); not a size or count with a unit (6寸, 2斤)
_FACET_VALUE = re.compile(r"[\u3400-\u9fff]{2}|^[\u3400-\u9fff]$")


def _core(value: str) -> str:
    """A cell without its bracketed remark: "换屏（原装屏）" → "换屏"."""
    return normalise_query(re.sub(r"[（(][^）)]*[）)]", "", str(value))).strip()


def _cjk_score(name: str, topic: str, all_names: list[str],
               doc_count: Callable[[str], int] | None, telling: dict[str, bool]) -> float:
    """The characters of the name's most telling piece the topic contains (0: none)."""
    best = 0.0
    for run in _CJK_RUN.findall(name):
        for size in range(len(run), 1, -1):
            if size <= best:
                break
            for i in range(len(run) - size + 1):
                piece = run[i:i + size]
                if piece not in topic:
                    continue
                whole = piece == run and len(_CJK_RUN.findall(name)) == 1
                if not whole and piece not in telling:
                    telling[piece] = _distinctive(piece, all_names, doc_count)
                if whole or telling[piece]:
                    best = max(best, float(size))
                    break
    return best


def _distinctive(piece: str, all_names: list[str], doc_count: Callable[[str], int] | None) -> bool:
    if sum(1 for n in all_names if piece in n) > MAX_ROWS_PER_PIECE:
        return False
    if doc_count is None:
        return True
    try:
        return doc_count(piece) <= MAX_DOC_PASSAGES
    except Exception:  # a failing count must not make every word a name
        return False


@dataclass
class _ModelVerdict:
    allowed: set[int] | None = None  # rows left once model words are compared (None: all)
    exact: set[int] | None = None  # rows whose distinguishing model words are the customer's
    unlisted: str = ""


def _models(topic: str, names: list[str]) -> _ModelVerdict:
    """Compare the model words (letters, numbers) of the question with the rows' names."""
    tokens = [set(_ASCII_TOKEN.findall(n)) for n in names]
    known = set().union(*tokens) if tokens else set()
    variants = _variant_words(tokens, names)
    allowed: set[int] | None = None
    exact: set[int] = set()
    for phrase in _phrases(topic):
        words = set(phrase)
        if not words & known:
            continue  # no row speaks of it: not a model name of this catalog
        if any(w not in known for w in phrase):
            return _ModelVerdict(unlisted=" ".join(phrase))
        fits = {i for i, t in enumerate(tokens) if words <= t and not (t - words) & variants}
        if not fits:
            # every row lacks one of the customer's words ("15 pro" among 14 pro and 15) or
            # has a variant word they did not say ("15" where only the 15 pro is listed)
            return _ModelVerdict(unlisted=" ".join(phrase))
        exact |= fits
        allowed = fits if allowed is None else allowed | fits
    return _ModelVerdict(allowed, exact or None)


def _variant_words(tokens: list[set[str]], names: list[str]) -> set[str]:
    """Letter words that tell listed models of one number apart (pro, mini, max: the 13 and
    the 13 pro, or the 13 mini and the 13 pro are listed): two names with a number in common
    that differ only in such words. Brand words are not variants ("iphone" where a 小米 14 is
    listed beside the iPhone 14: those names differ in a Chinese word too)."""
    by_number: dict[str, set[frozenset[str]]] = {}
    for t, n in zip(tokens, names, strict=True):
        words = frozenset(t | set(_CJK_RUN.findall(n)))
        for w in t:
            if w[0].isdigit():
                by_number.setdefault(w, set()).add(words)
    variants: set[str] = set()
    for group in by_number.values():
        listed = sorted(group, key=sorted)[:200]  # a number on hundreds of names names nothing
        for i, a in enumerate(listed):
            for b in listed[i + 1:]:
                differ = a ^ b
                if all(w.isascii() and not w[0].isdigit() for w in differ):
                    variants |= differ
    return variants


# A number followed by one of these is a quantity ("2个", "10个人", "8寸"), not a model name.
_MEASURE = re.compile(r"\s*(?:个|只|斤|两|公斤|千克|克|盒|箱|袋|瓶|杯|份|张|件|条|块|元|毛|角|寸|人|位|"
                      r"天|日|号|周|月|年|岁|小时|分钟|分|秒|点|公里|米|层|楼|次|折|倍|%|kg|g|km|ml)")


def _phrases(topic: str) -> list[list[str]]:
    """Runs of model words in the question, split at everyday English words; a number that
    counts something is left out."""
    out: list[list[str]] = []
    for m in _ASCII_RUN.finditer(topic):
        words = _ASCII_TOKEN.findall(m.group(0))
        if all(w[0].isdigit() for w in words) and _MEASURE.match(topic, m.end()):
            continue
        current: list[str] = []
        for word in words:
            if word in _ENGLISH_STOP:
                if current:
                    out.append(current)
                current = []
            else:
                current.append(word)
        if current:
            out.append(current)
    return out


# -- how a row is said ------------------------------------------------------------------------

# "价格(元)", "重量（g）": a unit the header's numbers are in (no digits: "冷藏（0-4℃）" is a
# condition, kept in the label)
_UNIT_IN_HEADER = re.compile(r"^(.*?)[（(]([^）)\d]{1,4})[）)]\s*$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_SPEC = ("规格", "单位", "包装", "份量", "重量", "容量", "尺寸", "spec", "size", "unit")
_PRICE = ("价格", "售价", "单价", "零售价", "价钱", "定价", "price")
_NOTE = ("备注", "说明", "特点", "描述", "介绍", "note", "notes", "remark", "description")
_SKIP = ("不适用", "无", "-", "—", "/", "n/a", "na")


def say_row(name: str, fields: dict[str, str]) -> str:
    """A catalog row as a shop assistant says it: "西湖龙井 168元（250克/罐），库存20，
    产地：杭州，明前采摘。" Every value as the merchant wrote it."""
    spec = price = ""
    parts: list[str] = []
    notes: list[str] = []
    for header, value in fields.items():
        value = str(value).strip()
        if not value or value == name or value.lower() in _SKIP or is_alias_header(header):
            continue
        label, unit = _label(header)
        low = label.lower()
        if any(k in low for k in _PRICE) and not price:
            price = f"{value}{unit}" if unit and _NUMBER.match(value) else value
            if _NUMBER.match(price):
                price += "元"
        elif any(k in low for k in _SPEC) and not spec:
            spec = value
        elif any(k in low for k in _NOTE):
            notes.append(value)
        else:
            shown = f"{value}{unit}" if unit and _NUMBER.match(value) else value
            sep = "" if _NUMBER.match(value) or value[:1].isdigit() else "："
            parts.append(f"{label}{sep}{shown}")
    head = name
    if price:
        head += f" {price}" + (f"（{spec}）" if spec else "")
    elif spec:
        head += f"（{spec}）"
    text = "，".join([head, *parts, *notes])
    return text if text[-1:] in "。！？!?" else text + "。"


def _label(header: str) -> tuple[str, str]:
    """("价格", "元") from "价格(元)"; the header and no unit otherwise."""
    m = _UNIT_IN_HEADER.match(header.strip())
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return header.strip(), ""


def product_of(p: Passage) -> Product | None:
    """(name, columns) of a product passage, whichever retriever produced it."""
    if p.kind != "product":
        return None
    fields = p.meta.get("fields") or {k: v for k, v in p.meta.items() if isinstance(v, str)}
    if not fields:
        return None
    name = p.meta.get("name") or next(iter(fields.values()), "")
    return (str(name), {str(k): str(v) for k, v in fields.items()}) if name else None
