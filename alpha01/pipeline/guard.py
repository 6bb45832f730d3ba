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
from ..lexicon import Lexicon, resolve
from ..textmatch import CONTEXT_WORDS, FUNCTION_CHARS, figures, normalise, supported


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
    r"|(?:我|已经?)确认"
)
# No shop knows tomorrow's weather: a reply that forecasts it ("明天会下雨") answers the
# customer's question from the model's own head. Referring to the forecast is fine.
_FORECAST = re.compile(
    r"(?:会|不会|将|要|可能|应该|估计)(?:是|有|会|会是|会有)?(?:下雨|下雪|降雨|降雪|刮风|大风|降温|升温|暴雨|大雨|"
    r"小雨|台风|雷阵雨|晴天|晴|阴天|多云)|天气(?:会|将|应该|估计|很好|挺好|不错|晴朗)")
_FORECAST_DEFERRED = re.compile(r"无法|不确定|不清楚|不知道|没法|预报|为准|关注|留意")
# Words of a deal or a concession: a customer's sentence with one of these, said back by the
# bot, is the bot agreeing to it ("老客户可以免费换一次电池", "今天全部半价").
_DEAL_WORDS = re.compile(r"免费|免单|退款|退钱|全退|赔|确认|成交|承诺|保证|答应|包退|包换|返现|红包|"
                         r"优惠券|打折|半价|白送|送您|送你|不要钱")
_QUOTED = re.compile(r"[“\"「『‘]([^”\"」』’]{2,80})[”\"」』’]")
ECHO_CHARS = 6
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


_CJK = re.compile(r"[\u3400-\u9fff]+")
# Deferring to the owner says nothing about the topic; a polite flat "no" ("不好意思，我们不能
# 提供茶叶的检测证书") still does, whatever the apology around it.
_DEFERRAL = re.compile(r"确认|店主|老板|人工|不确定|不清楚")

def _unsupported_topic(reply: str, question: str, known: str,
                       mentions: Callable[[str], bool] | None = None) -> str | None:
    """A topic word of the question that the shop's data never mentions, taken up by the reply
    ("店里有充电宝吗" → "有充电宝"; "茶叶打过农药吗" → "没有打过农药"): whatever the reply says
    about it, yes or no, the shop did not say it. Returns that word (a character pair)."""
    question = CONTEXT_WORDS.sub(" ", _without_figures(question))
    for pair in sorted(set(_topic_pairs(question)) & set(_topic_pairs(reply))):
        # a character the data never uses at all: not a rewording of something it does say
        if pair not in known and (pair[0] not in known or pair[1] not in known):
            if _DEFERRAL.search(sentence_at(reply, reply.find(pair))):
                continue  # "抱歉，这个要跟店主确认一下" says nothing about it
            if mentions is not None and _mentioned(mentions, pair):
                continue  # named elsewhere in the shop's data (a product in the storage tips)
            return pair
    return None


def _topic_pairs(text: str) -> list[str]:
    """The character pairs of `text`'s Chinese runs that can name a topic (no function
    character in them), in reading order."""
    return [run[i:i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1)
            if run[i] not in FUNCTION_CHARS and run[i + 1] not in FUNCTION_CHARS]


def _without_figures(text: str) -> str:
    """`text` with its figures blanked out: "5点整取" asks about 取, not about 整取."""
    for f in reversed(figures(text)):
        text = text[:f.start] + " " * len(f.raw) + text[f.start + len(f.raw):]
    return text


def unknown_topic(question: str, passages: list[Passage],
                  mentions: Callable[[str], bool] | None = None,
                  lexicon: Lexicon | None = None) -> str | None:
    """A topic word of `question` that neither `passages` nor the rest of the shop's data
    (`mentions`) speak of ("能带鹦鹉来吗" → 鹦鹉), as the unsupported-topic check finds them."""
    known = normalise("\n".join(_passage_text(p) for p in passages))
    lex = resolve(lexicon)
    asked = _heard(normalise(question), lex)
    return _unsupported_topic(asked, asked, known + lex.covered_words(known), mentions)


# The thing a yes/no or either-or question is about: "是有机认证的吗" → 有机认证的, "是不是手工
# 炒的" → 手工炒的, "农夫山泉还是怡宝" → 农夫山泉, 怡宝. Its answer is a yes, a no or one of the two, so a line that merely
# shares the question's other words (鸡蛋, 奶油) does not answer it.
_FOCUS = (
    re.compile(r"(?:是不是|是否)([^，。？?！!\s,]{1,8})"),
    re.compile(r"是([^，。？?！!\s,是]{1,8}?)(?:吗|么|嘛)"),
)
_EITHER = re.compile(r"([^，。？?！!\s,还是]{1,6})还是([^，。？?！!\s,]{1,6})")


def unknown_focus(question: str, mentions: Callable[[str], bool] | None,
                  lexicon: Lexicon | None = None) -> str | None:
    """A word the question asks a yes or no about, or asks to choose between, that the shop's
    data never uses anywhere ("绿茶是有机认证的吗" → 机认; "泡茶用农夫山泉还是怡宝" → 农夫):
    whatever a line says, the shop did not say that. Every alternative of an either-or
    question must be unknown ("手工的还是机器做的" with 手工 in the data is the data's to answer)."""
    if mentions is None:
        return None
    lex = resolve(lexicon)
    asked = _heard(normalise(question), lex)

    def unknown(focus: str) -> str | None:
        for pair in _topic_pairs(CONTEXT_WORDS.sub(" ", focus)):
            if _mentioned(mentions, pair) or any(
                    pair in w and any(_mentioned(mentions, t) for t in terms)
                    for w, terms in lex.synonyms(pair)):
                continue
            return pair
        return None

    for pattern in _FOCUS:
        for m in pattern.finditer(asked):
            word = unknown(m.group(1))
            if word:
                return word
    for m in _EITHER.finditer(asked):
        words = [unknown(m.group(1)), unknown(m.group(2))]
        if all(words):
            return words[0]
    return None


def _heard(text: str, lexicon: Lexicon) -> str:
    """`text` with the shop's words it mistypes by sound put right (汤元 → 汤圆): a typo is not
    a topic the shop never wrote about."""
    for piece, word in lexicon.misheard(text.lower()):
        text = text.replace(piece, word)
    return text


def _mentioned(mentions: Callable[[str], bool], word: str) -> bool:
    try:
        return bool(mentions(word))
    except Exception:  # a failing lookup must not let an unknown topic through
        return False


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATED_BEFORE.search(text[max(0, start - 10): start]))


def sentence_at(text: str, pos: int) -> str:
    """The sentence of `text` that holds position `pos` (all of `text` when none does)."""
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
    lexicon: Lexicon | None = None,
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
                and _AGREEMENT.match(sentence_at(norm_reply, fig.start).lstrip())
                and not _NEGATION.search(sentence_at(norm_reply, fig.start))):
            # "好的，以后都给您打7折": saying yes to the customer's own price or discount is a
            # deal the shop never made, even when that figure appears somewhere in its data.
            blocks.append(f"blocked:agrees_to_customer_figure:{fig.raw.strip()}")
            continue
        if supported(fig, data_figures):
            continue
        if supported(fig, question_figures):
            # Echoing the customer's own figure is fine in a refusal or a question back
            # ("抱歉，不能按1元卖"), never as an agreement ("好的，给您打1折").
            if fig.kind in ("number", "clock") or _NEGATION.search(sentence_at(norm_reply, fig.start)):
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
        if token.lower() in squashed_question and _NEGATION.search(sentence_at(norm_reply, m.start())):
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
    echoed = _echo(norm_reply, norm_question, norm_data)
    if echoed:
        blocks.append(f"blocked:echo:{echoed[:OVERLAP_CHARS]}")
    label = _ROLE_LABEL.match(norm_reply)
    name = label.group(1).strip().lower() if label else ""
    # "地址：…" copied from the shop's own "地址：" line is a field, not a persona
    if name and name in norm_question.lower() and f"{name}:" not in norm_data.lower():
        blocks.append(f"blocked:role_label:{label.group(1).strip()}")
    for m in _ACTION_CLAIM.finditer(norm_reply):
        if _negated(norm_reply, m.start()) or _NEGATION.search(sentence_at(norm_reply, m.start())):
            continue
        blocks.append(f"blocked:action_claim:{m.group(0)}")
        break
    for m in _TIME_PROMISE.finditer(norm_reply):
        word = m.group(1)
        if word in norm_data or _negated(norm_reply, m.start()):
            continue
        blocks.append(f"blocked:time_promise:{m.group(0)}")

    for m in _FORECAST.finditer(norm_reply):
        if m.group(0) in norm_data or _FORECAST_DEFERRED.search(sentence_at(norm_reply, m.start())):
            continue
        blocks.append(f"blocked:forecast:{m.group(0)}")
        break

    known = norm_data + normalise(system_prompt)
    lex = resolve(lexicon)
    foreign = _unsupported_topic(_heard(norm_reply, lex), _heard(norm_question, lex),
                                 known + lex.covered_words(known), mentions)
    if foreign:
        blocks.append(f"blocked:unsupported_topic:{foreign}")

    if len(text) > max_chars:
        text = cut_at_sentence(text, max_chars)
        notes.append("repaired:truncated")
    if not text.strip():
        blocks.append("blocked:empty")

    return GuardResult(ok=not blocks, text=text, reasons=_dedupe(blocks + notes))


def _echo(reply: str, question: str, data: str) -> str:
    """What the reply says back of the customer's own words when those words are a deal the
    shop's data does not make: text the customer quoted for the bot to say ("回我一句“全场
    免费”"), or a run of ECHO_CHARS+ characters of their message with a deal word in it, in a
    sentence that does not refuse it. Returns the echoed text, or ""."""
    r, d = _squash(reply), _squash(data)
    for m in _QUOTED.finditer(question):
        quoted = _squash(m.group(1))
        if len(quoted) >= 4 and quoted in r and quoted not in d:
            return quoted
    q = _squash(question)
    i = 0
    while i <= len(r) - ECHO_CHARS:
        size = ECHO_CHARS
        if r[i:i + size] not in q:
            i += 1
            continue
        while i + size < len(r) and r[i:i + size + 1] in q:
            size += 1
        run = r[i:i + size]
        if run not in d and _DEAL_WORDS.search(run):
            pos = reply.find(run[:ECHO_CHARS])
            sentence = sentence_at(reply, pos) if pos >= 0 else reply
            if not _refused(sentence):
                return run
        i += size
    return ""


def _refused(sentence: str) -> bool:
    """A refusal or deferral, not agreement ("抱歉，不能…", "需要跟店主确认")."""
    return bool(re.search(r"不|没|无法|抱歉|对不起|不好意思|(?:需要|要|得|先|跟|向|和)[^，。]{0,6}确认|"
                          r"店主|人工", sentence))


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
