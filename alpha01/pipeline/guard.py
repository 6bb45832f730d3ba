"""The guard: a deterministic check of a generated reply before a customer can see it.

It is not another model. It blocks a reply that

- states a price, discount, percentage, coupon code, refund or compensation amount, duration
  or clock time that the retrieved shop data (or, in a refusal, the question) does not contain;
- promises what the shop's data does not (保证/承诺/一定会/全额退款/包赔 …);
- contains the canary of the system prompt, or a long verbatim piece of the system prompt;
- is empty once cleaned.

It repairs, without blocking: leaked chat-template tokens (stripped; a fake next turn the model
started is cut off) and excess length (cut at a sentence end).

Figures are compared as values, not strings: Chinese and full-width numerals, 元/块/¥, 折 and %,
天/小时/分钟 and clock times (21:30 == 晚上9点半) are normalised on both sides, so a correct
answer that words a figure differently from the shop's files still passes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain import Passage
from ..lexicon import covered_words


@dataclass(slots=True)
class GuardResult:
    """`ok` False means: do not send `text`; `reasons` says why (also kept when ok: repairs)."""

    ok: bool
    text: str
    reasons: list[str] = field(default_factory=list)


# -- template tokens --------------------------------------------------------------------------

# A marker that opens a new turn: whatever follows is the model playing the other side.
_TURN_START = re.compile(
    r"<\|im_start\|>|<start_of_turn>|\[INST\]|<\|(?:user|system|start_header_id)\|>",
    re.IGNORECASE,
)
_TEMPLATE_TOKEN = re.compile(
    r"<\|[a-z_]{1,30}\|>|</?(?:start_of_turn|end_of_turn|bos|eos|s)>|\[/?INST\]|<</?SYS>>",
    re.IGNORECASE,
)
_ROLE_LINE = re.compile(r"^\s*(?:assistant|model|客服|AI)\s*[:：\n]\s*", re.IGNORECASE)


def strip_template_tokens(text: str) -> tuple[str, bool]:
    """Remove leaked chat-template tokens; cut at a fake next turn. Returns (text, changed)."""
    original = text
    for m in _TURN_START.finditer(text):
        if _TEMPLATE_TOKEN.sub("", _ROLE_LINE.sub("", text[: m.start()])).strip():
            text = text[: m.start()]
            break
    text = _TEMPLATE_TOKEN.sub("", text)
    text = _ROLE_LINE.sub("", text)
    text = text.strip()
    return text, text != original.strip()


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
    rf"个月|点半|点(?:钟)?(?:\d{{1,2}}分?)?|分(?!之))?",
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


def dropped_figures(source: str, reply: str) -> list[str]:
    """The figures `source` states that `reply` does not (compared as values): a reply that
    restates a shop rule without them has lost its conditions ("可以整单退款" of "坏果超过整单
    重量30%的，可以申请整单退款")."""
    pool = figures(normalise(reply))
    dropped = [f.raw for f in figures(normalise(source)) if not supported(f, pool)]
    # 免费 is a price too: "可以帮忙剥榴莲，收钱" of "榴莲免费开果" has lost it
    if "免费" in source and "免费" not in reply:
        dropped.append("免费")
    return dropped


def _bare(fig: Figure) -> float:
    m = re.search(_NUM, fig.raw)
    return float(m.group(0)) if m else fig.value


def _raw_number(src: Figure) -> float:
    """The number as written in the data, whatever unit followed it (5天 backs a bare 5)."""
    return _bare(src)


def _same_clock(a: float, b: float) -> bool:
    return any(abs((a + shift) % 1440 - b % 1440) < 1e-9 for shift in (0, 720, -720))


# -- claims without figures -------------------------------------------------------------------

# Promises that need the shop's data behind them. Matched on the normalised reply; allowed
# when the same words are in the passages, or when negated right before (不能全额退款).
_PROMISE_TERMS = (
    "全额退款", "全额退", "退全款", "全款", "免单", "免费送", "免费赠", "免费换", "免费补",
    "包赔", "包退", "包换", "包邮", "赔偿", "赔付", "补偿", "双倍", "三倍", "加倍", "返现",
    "红包", "优惠券", "代金券", "抵用券", "优惠码", "折扣码", "兑换码", "赠品", "送您",
    "立即退款", "马上退款", "当天退款", "当天到账", "马上到账",
)
_COMMITMENTS = (
    "保证", "承诺", "担保", "绝对", "百分百", "百分之百", "法律效力", "法律责任", "具有约束力",
    "有约束力", "一定会", "一定能", "一定可以", "一定给", "一定帮", "一定为", "一定送",
    "一定到", "一定退", "一定赔", "一定没问题", "一定不会", "肯定会", "肯定能", "肯定可以",
    "肯定没问题", "包您满意", "包你满意", "说到做到",
)
_TIME_PROMISE = re.compile(
    r"(今天|今日|明天|明日|后天|当天|当日|马上|立刻|立即|随时|很快|今晚)(?:就|都|便)?"
    r"(?:能|可以|会|给您|帮您|为您)?(?:送到|送达|送过去|到货|到|发货|发出|退款|退钱|到账|补发|赔)"
)
# The bot can change nothing in the shop (prices, orders, memberships, refunds): a reply that
# says it did, or will right away, is a promise in disguise ("已升级", "我会将订单改为5折").
_ACTION_CLAIM = re.compile(
    r"(?:已经?|这就|马上|立刻|我(?:会|将|来|已经?|这就|马上)?)"
    r"(?:为您|给您|帮您|替您|把|将)?[^。！？!?，,]{0,12}?"
    r"(?:升级|降级|改价|改为|改成|调整为|调成|修改|退款|退了|退还|补发|开通|办理好|办好|"
    r"下单|取消|作废|打折|加急|免单|更新订单|确认了|确认过|确认无误)"
)
# "DAN：…": speaking as a persona the customer invented.
_ROLE_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ -]{0,15}|[\u3400-\u9fff]{1,6})\s*[:：]")
_AGREEMENT = re.compile(r"(?:好的|好|可以|行|没问题|当然|成交|同意|收到|ok|OK|嗯)")
_NEGATED_BEFORE = re.compile(
    r"(?:不|没有|没|无法|不能|没法|暂不|暂时不|并不|未|不会|不敢|不好)"
    r"(?:能|可以|会|敢|提供|支持|做)?(?:给您|为您|帮您|跟您|向您|对您)?(?:做)?(?:出)?(?:任何)?$"
)
# A refusal, a deferral to the owner, or a question back. "确认" counts only as "需要确认"
# (checking with the owner), never as "我确认1元卖" (confirming the customer's deal).
_NEGATION = re.compile(r"不|没|无法|抱歉|对不起|不好意思|(?:需要|要|得|先|跟|向|和)[^，。]{0,6}确认|"
                       r"确认一下|店主|人工|请问|吗|？|\?")
_CODE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9_-]*[A-Za-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{4,}")
_UNIT_TOKEN = re.compile(r"^\d+(?:\.\d+)?[a-z]{1,3}$", re.IGNORECASE)
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")


# Characters that make a pair of characters say nothing about the topic.
FILLER = set("的了吗呢啊呀吧么嘛哦哈啦你我您们他她这那个有没不是在也都还就和跟与或可以能会要想请问")
_CJK = re.compile(r"[\u3400-\u9fff]+")
# Deferring to the owner says nothing about the topic; a polite flat "no" ("不好意思，我们不能
#提供农残检测报告") still does, whatever the apology around it.
_DEFERRAL = re.compile(r"确认|店主|老板|人工|不确定|不清楚")
# When and where the customer is (or goes), not what the question is about: "今天下单礼盒今天能拿到吗" asks
# about gift boxes, and a reply that says 今天 has not taken up a topic the shop never mentions.
_CONTEXT_WORDS = re.compile(
    r"今天|今晚|今早|今年|明天|明早|明晚|后天|昨天|前天|周末|早上|上午|中午|下午|晚上|傍晚|"
    r"刚才|现在|待会|一会|离店|离你们|我家|家里|过去|过来")


def _unsupported_topic(reply: str, question: str, known: str,
                       mentions: Callable[[str], bool] | None = None) -> str | None:
    """A topic word of the question that the shop's data never mentions, taken up by the reply
    ("店里有洗手间吗" → "有洗手间"; "芒果打催熟剂吗" → "芒果没有打催熟剂"): whatever the reply says
    about it, yes or no, the shop did not say it. Returns that word (a character pair)."""
    def pairs(text: str) -> set[str]:
        out = set()
        for run in _CJK.findall(text):
            for i in range(len(run) - 1):
                pair = run[i:i + 2]
                if pair[0] not in FILLER and pair[1] not in FILLER:
                    out.add(pair)
        return out

    question = _CONTEXT_WORDS.sub(" ", question)
    for pair in sorted(pairs(question) & pairs(reply)):
        # a character the data never uses at all: not a rewording of something it does say
        if pair not in known and (pair[0] not in known or pair[1] not in known):
            if _DEFERRAL.search(_sentence_at(reply, reply.find(pair))):
                continue  # "抱歉，这个要跟店主确认一下" says nothing about it
            if mentions is not None and _mentioned(mentions, pair):
                continue  # named elsewhere in the shop's data (芒果 in the storage tips)
            return pair
    return None


def unknown_topic(question: str, passages: list[Passage],
                  mentions: Callable[[str], bool] | None = None) -> str | None:
    """A topic word of `question` that neither `passages` nor the rest of the shop's data
    (`mentions`) speak of ("带狗狗进店" → 狗狗), as the unsupported-topic check finds them."""
    known = normalise("\n".join(_passage_text(p) for p in passages))
    asked = normalise(question)
    return _unsupported_topic(asked, asked, known + covered_words(known), mentions)


def _mentioned(mentions: Callable[[str], bool], word: str) -> bool:
    try:
        return bool(mentions(word))
    except Exception:  # a failing lookup must not let an unknown topic through
        return False


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATED_BEFORE.search(text[max(0, start - 10): start]))


def _sentence_at(text: str, pos: int) -> str:
    for m in _SENTENCE.finditer(text):
        if m.start() <= pos < m.end():
            return m.group(0)
    return text


# -- the check --------------------------------------------------------------------------------

OVERLAP_CHARS = 20


def check(
    reply: str,
    *,
    question: str,
    passages: list[Passage],
    system_prompt: str,
    canary: str,
    max_chars: int = 300,
    mentions: Callable[[str], bool] | None = None,
) -> GuardResult:
    """Check and repair one reply. Blocking reasons start with "blocked:".

    `mentions(word)` says whether the shop's data mentions a word anywhere, beyond
    `passages` (the knowledge base's `mentions`): a product the passages of this question
    happen not to name is not a topic the shop never wrote about."""
    notes: list[str] = []
    blocks: list[str] = []

    text, changed = strip_template_tokens(reply)
    if changed:
        notes.append("repaired:template_tokens")

    if canary and any(_squash(canary).lower() in _squash(t).lower()
                      for t in (reply, unicodedata.normalize("NFKC", reply))):
        blocks.append("blocked:canary")

    data = "\n".join(_passage_text(p) for p in passages)
    norm_reply = normalise(text)
    norm_data = normalise(data)
    norm_question = normalise(question)

    leak = _system_overlap(norm_reply, normalise(system_prompt), norm_data + norm_question)
    if leak:
        blocks.append(f"blocked:system_prompt_overlap:{leak[:OVERLAP_CHARS]}")

    data_figures = figures(norm_data)
    question_figures = figures(norm_question)
    for fig in figures(norm_reply):
        if (fig.kind in ("money", "discount") and supported(fig, question_figures)
                and _AGREEMENT.match(_sentence_at(norm_reply, fig.start).lstrip())
                and not _NEGATION.search(_sentence_at(norm_reply, fig.start))):
            # "好的，以后都给您打7折": saying yes to the customer's own price or discount is a
            # deal the shop never made, even when that figure appears somewhere in its data.
            blocks.append(f"blocked:agrees_to_customer_figure:{fig.raw.strip()}")
            continue
        if supported(fig, data_figures):
            continue
        if supported(fig, question_figures):
            # Echoing the customer's own figure is fine in a refusal or a question back
            # ("抱歉，不能按1元卖"), never as an agreement ("好的，给您打1折").
            if fig.kind in ("number", "clock") or _NEGATION.search(_sentence_at(norm_reply, fig.start)):
                continue
        blocks.append(f"blocked:figure:{fig.kind}:{fig.raw.strip()}")

    squashed_data = _squash(norm_data).lower()
    squashed_question = _squash(norm_question).lower()
    for m in _CODE.finditer(norm_reply):
        token = m.group(0)
        if _UNIT_TOKEN.match(token):
            continue
        if token.lower() in squashed_data:
            continue
        if token.lower() in squashed_question and _NEGATION.search(_sentence_at(norm_reply, m.start())):
            continue
        blocks.append(f"blocked:code:{token}")

    for kind, terms in (("promise", _PROMISE_TERMS), ("commitment", _COMMITMENTS)):
        hit: list[str] = []
        for term in sorted(terms, key=len, reverse=True):
            if any(term in longer for longer in hit):
                continue
            for m in re.finditer(re.escape(term), norm_reply):
                if term in norm_data or _negated(norm_reply, m.start()):
                    continue
                hit.append(term)
                blocks.append(f"blocked:{kind}:{term}")
                break
    label = _ROLE_LABEL.match(norm_reply)
    name = label.group(1).strip().lower() if label else ""
    # "地址：…" copied from the shop's own "地址：" line is a field, not a persona
    if name and name in norm_question.lower() and f"{name}:" not in norm_data.lower():
        blocks.append(f"blocked:role_label:{label.group(1).strip()}")
    for m in _ACTION_CLAIM.finditer(norm_reply):
        if _negated(norm_reply, m.start()) or _NEGATION.search(_sentence_at(norm_reply, m.start())):
            continue
        blocks.append(f"blocked:action_claim:{m.group(0)}")
        break
    for m in _TIME_PROMISE.finditer(norm_reply):
        word = m.group(1)
        if word in norm_data or _negated(norm_reply, m.start()):
            continue
        blocks.append(f"blocked:time_promise:{m.group(0)}")

    known = norm_data + normalise(system_prompt)
    foreign = _unsupported_topic(norm_reply, norm_question, known + covered_words(known),
                                 mentions)
    if foreign:
        blocks.append(f"blocked:unsupported_topic:{foreign}")

    if len(text) > max_chars:
        text = cut_at_sentence(text, max_chars)
        notes.append("repaired:truncated")
    if not text.strip():
        blocks.append("blocked:empty")

    return GuardResult(ok=not blocks, text=text, reasons=_dedupe(blocks + notes))


def cut_at_sentence(text: str, max_chars: int) -> str:
    """The longest prefix of whole sentences within `max_chars` (a hard cut if none fits)."""
    head = text[:max_chars]
    ends = [m.end() for m in re.finditer(r"[。！？!?；;\n]|\.(?=\s|$)", head)]
    if ends and ends[-1] >= max_chars // 3:
        return head[: ends[-1]].rstrip()
    return head[: max_chars - 1].rstrip() + "…"


def _passage_text(p: Passage) -> str:
    parts = [p.text]
    if p.question:
        parts.append(p.question)
    if p.answer:
        parts.append(p.answer)
    return "\n".join(parts)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _system_overlap(reply: str, system: str, allowed: str) -> str:
    """A run of OVERLAP_CHARS characters the reply shares with the system prompt, unless the
    shop data or the question also contain it. Returns the run, or ""."""
    r, s, a = _squash(reply), _squash(system), _squash(allowed)
    if len(r) < OVERLAP_CHARS or not s:
        return ""
    for i in range(len(r) - OVERLAP_CHARS + 1):
        window = r[i: i + OVERLAP_CHARS]
        if window in s and window not in a:
            return window
    return ""


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
