"""Chinese text matching, in one place: normalising, terms and character bigrams, filler
characters, coverage, and the figures of a text (prices, discounts, durations, clock times).

Retrieval, evidence ranking, the catalog lookup and the guard all read text through these, so
they agree on what a word, a filler and a figure are. No tokenizer: Chinese is matched by
characters and character pairs, which needs no dictionary and works for any shop's words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Chinese function characters and chat fillers that carry no topic. Dropped from the full-text
# query only (the embedder sees the question as typed).
# Chat particles and pronouns: never a topic. Dropped from full-text queries (the embedder
# sees the question as typed).
FILLERS = frozenset("的了吗呢啊呀吧么嘛哦哈啦喔噢哇嗯诶欸哎是在我你您们他她这那个有没不")
# ... and function words: a pair of these (可以, 不能) says nothing about which line a reply
# restates or what a question is about.
FUNCTION_CHARS = FILLERS | frozenset("也都还就和跟与或给另可以能会要想请问下")
# When and where the customer is (or goes, and how: 开车, 打车), what they mean to do (打算), and
# whom they buy for, not what the question is about: "明天送修明天能取吗" asks about repairs,
# "带奶奶来喝茶，几点开门" about opening hours; a reply that says 明天 or 奶奶 has not taken up
# a topic the shop never mentions.
CONTEXT_WORDS = re.compile(
    r"今天|今晚|今早|今年|明天|明早|明晚|后天|昨天|前天|周末|早上|上午|中午|下午|晚上|傍晚|"
    r"刚才|现在|待会|一会|离店|离你们|我家|家里|过去|过来|的话|打算|准备|开车|自驾|打车|"
    r"外婆|外公|姥姥|姥爷|奶奶|爷爷|老妈|老爸|我妈|我爸|妈妈|爸爸|父母|爸妈|老公|老婆|媳妇|"
    r"女朋友|男朋友|对象|儿子|女儿|闺女|朋友|同事|家人|亲戚|长辈|老人家|客户|领导|老师|同学")
_WORD = re.compile(r"[0-9a-z]+|[\u3400-\u9fff\uf900-\ufaff]+")
_ASCII_WORD = re.compile(r"[0-9a-z]+")


def normalise_query(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", " ", text).strip()


def query_terms(text: str) -> list[str]:
    """Words and CJK runs of a query, with filler characters removed."""
    out = []
    for word in _WORD.findall(normalise_query(text)):
        if word[0].isascii():
            out.append(word)
            continue
        run = "".join(" " if ch in FILLERS else ch for ch in word).split()
        out.extend(run)
    return out


def bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in _WORD.findall(normalise_query(text)):
        if word[0].isascii():
            grams.add(word)
        elif len(word) == 1:
            grams.add(word)
        else:
            grams.update(word[i : i + 2] for i in range(len(word) - 1))
    return grams


def query_bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for term in query_terms(text):
        grams |= bigrams(term)
    return grams


Synonyms = list[tuple[set[str], tuple[str, ...]]]


_TELLING = re.compile(r"^(?=.*[a-z])[a-z0-9]{2,}$|^\d{3,}$")


@functools.lru_cache(maxsize=4096)
def _normalised(text: str) -> str:
    # NFKC was half of fusion's time; candidates recur from one question to the next.
    return unicodedata.normalize("NFKC", text).lower()


def coverage(query_grams: set[str], text: str, synonyms: Synonyms = ()) -> float:
    """Share of the query's terms found in `text`: half for its characters (and ASCII words),
    half for its character bigrams, so a colloquial paraphrase still gets partial credit.
    A word of the query counts as found where the text uses one of its `synonyms` instead
    (the customer asks 几点关门, the text says 营业时间)."""
    if not query_grams:
        return 0.0
    # Substring tests on the normalised text instead of building its bigram set (this runs
    # for every candidate of every search): a CJK bigram occurs in the text exactly when it
    # is one of its bigrams, a single character anywhere counts, ASCII words count whole.
    norm = _normalised(text or "")
    words: set[str] | None = None
    granted: set[str] = set()
    for grams, terms in synonyms:
        if any(t in norm for t in terms):
            granted |= grams

    def has(gram: str) -> bool:
        nonlocal words
        if gram in granted:
            return True
        if gram.isascii() and len(gram) > 1:
            if words is None:
                words = set(_ASCII_WORD.findall(norm))
            return gram in words
        return gram in norm

    # A word of letters, or a number of three digits or more ("wifi", "logo", "398", "2000"),
    # says as much as a character pair: it counts with the pairs. A short number ("10个人",
    # "6寸") is a count that matches everywhere: it counts like a single character.
    chars = {g for g in query_grams if len(g) == 1 or (g.isascii() and not _TELLING.match(g))}
    pairs = query_grams - chars
    singles = {c for g in pairs if not g.isascii() for c in g} | chars | {
        g for g in pairs if g.isascii()}
    char_cov = sum(1 for c in singles if has(c)) / len(singles)
    if not pairs:
        return char_cov
    pair_cov = sum(1 for g in pairs if has(g)) / len(pairs)
    # Single characters match almost anything in Chinese; bigrams carry the meaning.
    return 0.3 * char_cov + 0.7 * pair_cov


# -- numbers ----------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUM = "零〇一二两三四五六七八九十百千万"


def cn_to_number(s: str) -> float | None:
    """一百二十 → 120, 十五 → 15, 八五 → 85, 二零二四 → 2024, 三点五 → 3.5; None if not a number."""
    if not s:
        return None
    if "点" in s:
        whole, _, frac = s.partition("点")
        w = cn_to_number(whole)
        if w is None or not frac or any(c not in _CN_DIGITS for c in frac):
            return None
        return float(f"{int(w)}.{''.join(str(_CN_DIGITS[c]) for c in frac)}")
    if any(c not in _CN_DIGITS and c not in _CN_UNITS for c in s):
        return None
    if all(c in _CN_DIGITS for c in s):
        return float("".join(str(_CN_DIGITS[c]) for c in s))
    total, section, digit = 0, 0, 0
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            unit = _CN_UNITS[c]
            if unit == 10000:
                total += (section + digit) * unit
                section, digit = 0, 0
            else:
                section += (digit or 1) * unit
                digit = 0
    return float(total + section + digit)


# Units that make a Chinese numeral worth converting (so 一定/一下/一起 stay words).
_UNIT_AFTER = (
    r"元|块|毛|角|折|天|日|号|小时|个|分钟|分|秒|钟头|周|星期|月|年|斤|公斤|千克|克|箱|件|张|次|位|"
    r"盒|袋|份|瓶|公里|米|层|楼|人|单|倍|成|点|岁|条|款|种|样|家|台|杯|颗|粒|串|半"
)
_CN_BEFORE_UNIT = re.compile(
    rf"(?<![{_CN_NUM}])([{_CN_NUM}]+(?:点[{_CN_NUM[:-4]}]+)?)(?=(?:{_UNIT_AFTER}))"
)
_CN_PERCENT = re.compile(rf"百分之([{_CN_NUM}]+|\d+(?:\.\d+)?)")


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII), Chinese numerals before a unit → digits, 百分之N → N%."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("￥", "¥")

    def pct(m: re.Match[str]) -> str:
        v = m.group(1)
        n = cn_to_number(v) if not v[0].isdigit() else float(v)
        return f"{_fmt(n)}%" if n is not None else m.group(0)

    text = _CN_PERCENT.sub(pct, text)
    text = re.sub(r"(\d+|[一二两三四五六七八九十]+)个半(?=小时|钟头|月|天)", _half, text)
    text = re.sub(r"(?<![\d一二两三四五六七八九十])半(?=小时|个小时|天|个月|钟头)", "0.5", text)

    def cn(m: re.Match[str]) -> str:
        n = cn_to_number(m.group(1))
        return _fmt(n) if n is not None else m.group(0)

    text = _CN_BEFORE_UNIT.sub(cn, text)
    # 12块八 → 12块8 (read as 12.8 by figures())
    return re.sub(r"(\d块)([一二两三四五六七八九])(?![\d十百千万一二两三四五六七八九])",
                  lambda m: m.group(1) + _fmt(_CN_DIGITS[m.group(2)]), text)


def _half(m: re.Match[str]) -> str:
    v = m.group(1)
    n = float(v) if v.isdigit() else cn_to_number(v)
    return f"{_fmt((n or 0) + 0.5)}个" if n is not None else m.group(0)


def _fmt(n: float | None) -> str:
    if n is None:
        return ""
    return str(int(n)) if float(n).is_integer() else f"{n:g}"


# -- figures ----------------------------------------------------------------------------------

_MINUTES = {"分钟": 1, "分": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1,
            "小时": 60, "个小时": 60, "钟头": 60, "个钟头": 60, "h": 60, "hr": 60, "hrs": 60,
            "hour": 60, "hours": 60, "天": 1440, "日": 1440, "个工作日": 1440, "工作日": 1440,
            "day": 1440, "days": 1440, "周": 10080, "个星期": 10080, "星期": 10080,
            "week": 10080, "weeks": 10080, "个月": 43200}

_NUM = r"\d+(?:\.\d+)?"
_FIGURE = re.compile(
    rf"(?P<clock>(?<![\d.])(?P<ch>[01]?\d|2[0-4])[:：](?P<cm>[0-5]\d)(?!\d))"
    rf"|(?P<pre>[¥$])\s*(?P<pv>{_NUM})"
    rf"|(?P<kv>\d+)块(?P<kj>\d)(?![\d.])"
    rf"|(?P<v>{_NUM})\s*(?P<u>%|块钱|元|块|rmb|RMB|yuan|折|个工作日|工作日|个小时|小时|个钟头|钟头|"
    rf"分钟|mins?|minutes?|hours?|hrs?|h(?![a-z])|days?|weeks?|天(?!猫)|日(?!用)|个星期|周(?![一二三四五六日末])|"
    rf"个月|点半|点(?:钟|整)?(?:\d{{1,2}}分?)?|分(?!之))?",
    re.IGNORECASE,
)
_TIME_OF_DAY = re.compile(r"(早上|上午|中午|下午|晚上|凌晨|傍晚|夜里|早)\s*$")


@dataclass(frozen=True, slots=True)
class Figure:
    kind: str  # money | discount | percent | duration | clock | number
    value: float
    raw: str
    start: int
    bare: bool = False  # a number with no unit or word after it (a CSV cell, "满99")


def figures(text: str) -> list[Figure]:
    """Every figure in `text` (already normalised), with its kind and comparable value."""
    out: list[Figure] = []
    for m in _FIGURE.finditer(text):
        raw = m.group(0)
        if m.group("clock"):
            out.append(Figure("clock", int(m.group("ch")) * 60 + int(m.group("cm")), raw,
                              m.start()))
            continue
        if m.group("kv"):
            out.append(Figure("money", int(m.group("kv")) + int(m.group("kj")) / 10, raw,
                              m.start()))
            continue
        if m.group("pre"):
            out.append(Figure("money", float(m.group("pv")), raw, m.start()))
            continue
        v = float(m.group("v"))
        u = (m.group("u") or "").lower()
        if u in ("%",):
            out.append(Figure("percent", v, raw, m.start()))
        elif u in ("元", "块", "块钱", "rmb", "yuan"):
            out.append(Figure("money", v, raw, m.start()))
        elif u == "折":
            # 8折 = 0.8, 8.5折 / 85折 = 0.85, 95折 = 0.95
            frac = v / 10 if v < 10 else v / 100 if v < 100 else v / 1000
            out.append(Figure("discount", round(frac, 4), raw, m.start()))
        elif u.startswith("点"):
            # 9点半 / 晚上9点 / 9点前 are clock times; a bare 一点 is "a little" (便宜一点).
            minutes = _clock_cn(v, u)
            before = text[max(0, m.start() - 4): m.start()]
            after = text[m.end(): m.end() + 1]
            if minutes is not None and (u != "点" or _TIME_OF_DAY.search(before)
                                        or re.match(r"[前后到开关钟左以]", after)):
                out.append(Figure("clock", minutes, raw, m.start()))
        elif u in _MINUTES:
            out.append(Figure("duration", v * _MINUTES[u], raw, m.start()))
        else:
            after = text[m.end(): m.end() + 1]
            bare = not after or not (after.isalpha() or after in "%")
            out.append(Figure("number", v, raw, m.start(), bare))
    return out


def _clock_cn(hour: float, unit: str) -> float | None:
    if not hour.is_integer() or not 0 <= hour <= 24:
        return None
    minutes = 0
    if unit == "点半":
        minutes = 30
    else:
        m = re.search(r"(\d{1,2})", unit)
        if m:
            minutes = int(m.group(1))
    return hour * 60 + minutes


def supported(fig: Figure, pool: list[Figure]) -> bool:
    """Whether a figure of a reply is backed by one of `pool` (the data's figures)."""
    if fig.kind == "number" and fig.value <= 2:  # 一个/两种/第1: counting words, not claims
        return True
    for src in pool:
        if fig.kind == "number":
            if abs(src.value - fig.value) < 1e-9 or _raw_number(src) == fig.value:
                return True
            continue
        if fig.kind == "clock":
            if src.kind == "clock" and _same_clock(fig.value, src.value):
                return True
            continue
        if src.kind == fig.kind and abs(src.value - fig.value) < 1e-6:
            return True
        # A unit-less number in the data (a CSV price column, "满99免配送费") backs a figure
        # with a unit in the reply.
        if (src.kind == "number" and src.bare and fig.kind in ("money", "percent")
                and _bare(fig) == src.value):
            return True
        if fig.kind == "discount" and src.kind == "percent":
            if abs((1 - src.value / 100) - fig.value) < 1e-6 or abs(src.value / 100 - fig.value) < 1e-6:
                return True
        if fig.kind == "percent" and src.kind == "discount":
            if abs((1 - fig.value / 100) - src.value) < 1e-6 or abs(fig.value / 100 - src.value) < 1e-6:
                return True
    return False


def _bare(fig: Figure) -> float:
    m = re.search(_NUM, fig.raw)
    return float(m.group(0)) if m else fig.value


def _raw_number(src: Figure) -> float:
    """The number as written in the data, whatever unit followed it (5天 backs a bare 5)."""
    return _bare(src)


def _same_clock(a: float, b: float) -> bool:
    return any(abs((a + shift) % 1440 - b % 1440) < 1e-9 for shift in (0, 720, -720))
