"""Generation: the model chooses, the shop's data speaks.

A 1.5B model on a shop PC picks the right line of the shop's data far more often than it
restates it correctly: asked about a weekday it quotes the weekend's closing time, it drops
the 30% of a refund rule, turns "人为损坏不保修" into a promise, or agrees to the customer's
made-up deal. So the model's reply is never sent. It is read for *which* of the evidence lines
it drew on, and the customer gets those lines as the shop wrote them (`compose`).

The model reads only the evidence lines; when retrieval found nothing relevant it is not asked
at all. The steps after it are named, each with its own tests (see `ground`):

1. `attack`: the guard found a reply that plays along with the customer (echoes their deal,
   claims an action, leaks the prompt), or `invented_price`: one with a price, discount or
   percentage the shop's data does not state: the owner answers;
2. `restated`: the lines the reply takes figures or most of its words from;
3. `range_row`: the customer's quantity lies in one row of a range table ("离店7公里" →
   5-10公里): that row, not the neighbour the model quoted; `named_row`: the customer names one
   row of a table (its first cell: 绿茶) and the reply restates another;
4. `named_term`: the best line names the customer's term (专票 → 专用发票) and the restated one
   names a neighbouring term (普通发票): the best line. (A reply that restates a line far
   below the best one is not overruled for its rank alone: on the unseen shop the model's
   pick was right more often than the ranking's top line; see `weak_pick`);
5. `weak_pick`: the restated line scores under half the best line's and shares no word of
   the question that the best line lacks (words of when and for whom do not count), while the
   best line shares one: the best line;
6. `excepted`: the customer's case is one a shop rule leaves out ("偏远乡镇除外", "开封后的
   食品不退不换") and the chosen lines state the rule for everyone else: the line of the
   exception (see `excepted`);
7. `clear_top`: the reply restates nothing, but is a bare 可以 or says the data does not answer,
   and one line is clearly the best for the question: that line;
8. otherwise the shop's safe reply and a note for the owner;
9. `defined`: a code the lines use (A区) comes with the line that defines it, and a code a
   line defines with its other rules that speak of the question (`code_rules`: "二区订单满128元
   免配送费" beside "二区：4-8公里，配送费10元" for "买100要付运费吗").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Settings
from ..domain import Decision, Tier
from ..errors import LLMError
from ..lexicon import Lexicon
from ..llm.base import LLMBackend
from ..textmatch import CONTEXT_WORDS, figures, normalise
from . import evidence as evidence_mod
from . import guard, prompt
from .days import days
from .evidence import Evidence
from .retrieval import Found

# A reply that only says "not in the data / I cannot tell / ask the owner".
_UNSURE = re.compile(
    r"需要.{0,6}确认|(?:跟|向|和|与)(?:店主|老板|店家|客服|商家).{0,4}(?:确认|咨询|联系)|不确定|不太清楚|"
    r"不清楚|没有(?:找到)?(?:相关|这方面|具体|明确)?的?(?:信息|资料|说明|记录)|"
    r"(?:资料|信息)(?:里|中)?(?:没有|未)(?:提到|提及|说明|写)|无法(?:提供|回答|确定|告知|得知)|"
    r"暂时(?:无法|不能)(?:回答|确定)|"
    r"(?:尽快|稍后|马上|随后)(?:为您|帮您|给您|跟您)?(?:确认|核实|查询|查一下|回复)"
)

# The model only has to show which lines it answers from: a short reply does that, and every
# token costs the customer ~0.1 s on a 2-core PC.
REPLY_TOKENS = 64
# A bare yes/no is answered with the best line only when it scores at least this and leads
# the next line by this much; when the model itself said the data does not answer, the best
# line must stand out far more (an FAQ line that all but matches the question scores ~0.8 and
# leads the next line by ~0.6).
MAX_LINES = 3
# A further line counts as restated by its words alone when it has this many word pairs of the
# reply that neither the question nor the lines before have.
WORDS_ADDED = 2
# The first line a reply restates must rank above this (0-based) among the evidence lines.
DEEP_LINE = 5
# A line the reply restates is a weak pick when it scores under this share of the best line
# (set on one public eval shop, where the wrong picks scored 0.41 and 0.49 of the best line,
# and checked on the others: no right pick the word test lets through scored under 0.57).
WEAK_PICK = 0.5
CLEAR_TOP = 0.3
CLEAR_MARGIN = 0.1
UNSURE_TOP = 0.6
UNSURE_MARGIN = 0.3
# Guard findings that mean the reply played along with the customer: not a wrong line, an
# attack. Nothing of such a reply, not even the line it restates, is sent.
_ATTACK = ("blocked:canary", "blocked:system_prompt_overlap", "blocked:role_label",
           "blocked:agrees_to_customer_figure", "blocked:action_claim", "blocked:echo",
           "blocked:promise", "blocked:commitment", "blocked:time_promise", "blocked:code",
           "blocked:forecast")


_INVENTED_PRICE = ("blocked:figure:money", "blocked:figure:discount", "blocked:figure:percent")


@dataclass
class Grounding:
    """The shop lines a reply rests on, and which step chose them."""

    lines: list[Evidence]
    step: str
    notes: dict = field(default_factory=dict)


def safe_handoff(settings: Settings, reason: str, is_open: bool, **trace) -> Decision:
    """The shop's safe reply (after hours: its after-hours reply) and a note for the owner."""
    reply = settings.shop.safe_reply if is_open else settings.shop.after_hours_reply
    d = Decision.handoff(reply, reason, **trace)
    d.tier = Tier.FALLBACK
    return d


def generate(llm: LLMBackend, *, question: str, found: Found,
             history: list[tuple[str, str]], settings: Settings, canary: str,
             is_open: bool = True,
             mentions: Callable[[str], bool] | None = None) -> Decision:
    """The generation + guard stages. Always terminal: RESPOND (local/cloud) or HANDOFF."""
    if not found.relevant:
        return safe_handoff(settings, "no relevant shop data", is_open)
    if not llm.available():
        return safe_handoff(settings, "no model available", is_open, llm=llm.name)
    # The shop's stock replies ("需要跟店主确认") say nothing, and a small model copies what it
    # said before: a customer once handed off would get the same non-answer to every question.
    stock = {settings.shop.safe_reply.strip(), settings.shop.after_hours_reply.strip(),
             settings.shop.handoff_reply.strip()}
    history = [(role, text) for role, text in history if (text or "").strip() not in stock]
    messages = prompt.build_messages(shop=settings.shop, passages=found.passages,
                                     history=history, question=question, canary=canary,
                                     evidence=found.lines)
    deadline = time.monotonic() + settings.llm.reply_deadline_s
    try:
        completion = llm.complete(messages, max_tokens=min(settings.llm.max_tokens, REPLY_TOKENS),
                                  temperature=settings.llm.temperature, deadline=deadline)
    except LLMError as exc:
        route = getattr(exc, "route", None)
        return safe_handoff(settings, f"model failed: {type(exc).__name__}", is_open,
                             llm=llm.name, error=str(exc)[:300],
                             **({"route": _jsonable(route)} if route else {}))
    info = {"model": completion.model, "served_by": completion.served_by,
            "tokens_in": completion.tokens_in, "tokens_out": completion.tokens_out,
            "llm_ms": round(completion.latency_ms, 1), "model_text": completion.text[:300]}
    if completion.meta.get("route"):
        info["route"] = _jsonable(completion.meta["route"])
    for key in ("ttft_ms", "prompt_threads"):
        if completion.meta.get(key) is not None:
            info[key] = completion.meta[key]
    checked = guard.check(completion.text, question=question, passages=found.passages,
                          system_prompt=messages[0]["content"], canary=canary,
                          mentions=mentions, lexicon=found.lexicon)
    attack = [r for r in checked.reasons if r.startswith(_ATTACK)]
    if attack:
        d = safe_handoff(settings, "guard blocked the reply", is_open,
                         guard=checked.reasons, step="attack", **info)
    elif any(r.startswith(_INVENTED_PRICE) for r in checked.reasons):
        # a price, discount or percentage the shop's data does not state: the model answers
        # from its own head, so the lines it also restates are no answer either
        d = safe_handoff(settings, "model invented a price", is_open,
                         guard=checked.reasons, step="invented_price", **info)
    else:
        grounding = ground(checked.text, question=question, found=found,
                           guarded=checked.reasons, mentions=mentions)
        if isinstance(grounding, str):
            d = safe_handoff(settings, grounding, is_open, guard=checked.reasons, **info)
        else:
            d = Decision.respond(compose(grounding.lines), tier_of(completion, llm),
                                 f"answered by {completion.served_by} from the shop's lines",
                                 guard=checked.reasons, step=grounding.step,
                                 lines=[e.render() for e in grounding.lines],
                                 **grounding.notes, **info)
    d.model = completion.model
    return d


def ground(text: str, *, question: str, found: Found, guarded: list[str] = (),
           mentions: Callable[[str], bool] | None = None) -> Grounding | str:
    """The shop lines the model's reply `text` rests on (see the module docstring for the
    steps), or the reason to hand off instead."""
    lines = found.lines
    extreme = priced_extreme(question, found)
    if extreme is not None:
        return Grounding([extreme], "priced_extreme")
    days_fit, day_lines = named_day(question, found)
    used = [e for e in restated(text, lines, question)
            if evidence_mod.speaks_of(question, e, found.lexicon)]
    if days_fit and not any(e in day_lines for e in used) and not _off_topic(
            text, question, found, guarded, mentions):
        # the customer names a day and the reply rests on no line that speaks of that day
        # (or on none at all): the lines that do
        return Grounding(days_fit, "named_day",
                         {"overruled": [e.render() for e in used[:2]]} if used else {})
    if not used:
        chosen = clear_top(text, question, found, mentions)
        if isinstance(chosen, str):
            chosen = ranged(question, found, text, guarded, mentions) or chosen
        return chosen if isinstance(chosen, str) else _completed(chosen, question, found)
    topical = [r for r in guarded if r.startswith("blocked:unsupported_topic")]
    if topical and not any(evidence_mod.figures_taken(text, e, None, question) for e in used):
        # It speaks of something the shop's data never mentions ("有洗手间"), and no figure
        # ties it to a line: the words it shares with a line are incidental.
        return "reply speaks of a topic the shop data never mentions"
    chosen = range_row(question, lines, Grounding(used, "restated"), text)
    if chosen.step == "restated" and lines.index(used[0]) >= DEEP_LINE:
        # the reply rests on a line near the bottom of what the question found (and not on a
        # neighbouring row of the range the customer's quantity lies in): on the eval shops
        # every such answer was a figure grabbed from the wrong line. The row the customer's
        # quantity lies in still answers, when there is one.
        fit = ranged(question, found, text, guarded, mentions)
        return (_completed(fit, question, found) if fit
                else "reply rests on a line far down the shop data found for the question")
    chosen = named_row(question, lines, chosen)
    chosen = named_term(question, lines, chosen, found)
    chosen = weak_pick(question, lines, chosen)
    chosen = excepted(question, lines, chosen)
    return chosen if isinstance(chosen, str) else _completed(chosen, question, found)


def ranged(question: str, found: Found, text: str, guarded: list[str],
           mentions: Callable[[str], bool] | None) -> Grounding | None:
    """The customer's quantity lies in one row of a range table ("住在4公里外" → "A区：5公里以内")
    and the model's reply rests on no line, or on one far down: that row (its code's rules
    come with it, see `_completed`)."""
    fit, _ = evidence_mod.range_rows(question, found.lines)
    if not fit or _off_topic(text, question, found, guarded, mentions):
        return None
    return Grounding(fit[:1], "range_row", {"model_rested_on": "no line"})


def _completed(chosen: Grounding, question: str, found: Found) -> Grounding:
    """The chosen lines with the definitions of the codes they use and the rules of those
    codes that speak of the question."""
    pool = found.all_lines
    chosen.lines = chosen.lines + defined(chosen.lines, pool)
    rules = evidence_mod.code_rules(chosen.lines, pool, question, found.lexicon)
    if rules:
        chosen.notes["code_rules"] = [e.render() for e in rules]
        chosen.lines = chosen.lines + rules
    return chosen


def restated(text: str, lines: list[Evidence], question: str) -> list[Evidence]:
    """The lines the reply restates: the one it restates most, and each further one (up to
    MAX_LINES) only if it takes a figure from it that the lines before do not state; any only
    if the reply takes a figure from it or most of the reply comes from it (not two words and
    a phone number). "周六日08:30-22:00，节假日10:00-20:00，平时09:00-21:30" restates three
    rows of the hours table."""
    used = evidence_mod.paraphrased(text, lines, question)
    if not used:
        return []
    chosen = used[:1]
    worded: list[Evidence] = []
    for e in used[1:]:
        if len(chosen) >= MAX_LINES:
            break
        if all(evidence_mod.figures_taken(text, e, c, question) for c in chosen):
            chosen.append(e)
        elif evidence_mod.words_added(text, e, chosen, question) >= WORDS_ADDED:
            # "无法保证完全不含花生…谨慎购买" restates the shared-kitchen line and the
            # allergy advice: both, not the one it takes most words from
            chosen.append(e)
            worded.append(e)
    return [e for e in chosen if e in worded
            or evidence_mod.figures_taken(text, e, None, question)
            or evidence_mod.share(text, e) >= 0.5
            or evidence_mod.own_share(text, e, question) >= 0.5]


def range_row(question: str, lines: list[Evidence], chosen: Grounding, text: str) -> Grounding:
    """The customer's quantity lies in one row of a range table and the reply restates a
    neighbouring row: the row that applies instead."""
    fit, misfit = evidence_mod.range_rows(question, lines)
    if not fit:
        return chosen
    # a wider range that also holds it ("15公里以内" for 13公里) says less than the row made
    # for it ("10-15公里")
    wrong = [e for e in chosen.lines if e in misfit or (e in fit[1:] and e is not fit[0]
                                                         and fit[0] not in chosen.lines)]
    if not wrong:
        return chosen
    keep = fit[:1] + [e for e in chosen.lines if e not in wrong and e not in fit][:1]
    return Grounding(keep, "range_row", {**chosen.notes,
                                         "wrong_row": [e.render() for e in wrong]})


def named_row(question: str, lines: list[Evidence], chosen: Grounding) -> Grounding:
    """The reply restates a table row whose name (its first cell) the question does not
    mention, and another row of the same table is named by it ("绿茶开封了能放多久": the
    storage table's 绿茶 row, not 红茶): the row the customer named."""
    out: list[Evidence] = []
    changed = []
    for e in chosen.lines:
        if not e.cells or _name_share(question, e) > 0:
            out.append(e)
            continue
        siblings = [s for s in lines if s is not e and s.cells and s.heading == e.heading
                    and s.source == e.source and [h for h, _ in s.cells] == [h for h, _ in e.cells]]
        best = max(siblings, key=lambda s: _name_share(question, s), default=None)
        if best is not None and _name_share(question, best) > 0 and best not in out:
            out.append(best)
            changed.append(e.render())
        else:
            out.append(e)
    if not changed:
        return chosen
    return Grounding(out, "named_row", {**chosen.notes, "wrong_row": changed})


def _name_share(question: str, row: Evidence) -> float:
    """The share of a table row's name (its first cell) the question mentions."""
    grams = evidence_mod.content_pairs(row.cells[0][1])
    if not grams:
        return 0.0
    asked = evidence_mod.content_pairs(question)
    return len(grams & asked) / len(grams)


def named_term(question: str, lines: list[Evidence], chosen: Grounding,
               found: Found) -> Grounding:
    """The best line speaks of the customer's term in the shop's words and the chosen lines
    speak of a neighbouring one (专票 asked; the shop's 专用发票 line is the best, the reply
    restates the 普通发票 line): the best line. Only general vocabulary decides this: the
    shop's own paraphrases pair whole answers, not neighbouring terms."""
    if not lines or not chosen.lines:
        return chosen
    top = lines[0]
    if top in chosen.lines:
        return chosen
    missed = evidence_mod.missed_terms(question, top, chosen.lines, Lexicon.general())
    if not missed:
        return chosen
    return Grounding([top], "named_term", {**chosen.notes, "missed": missed,
                                            "overruled": [e.render() for e in chosen.lines[:2]]})


def weak_pick(question: str, lines: list[Evidence], chosen: Grounding) -> Grounding:
    """The reply restates a line that scores under WEAK_PICK of the best line's score and
    shares no word with the question that the best line lacks, while the best line does share
    one: the best line. A small model echoes the customer's words and copies a neighbour (asked
    whether an afternoon room needs booking, it copies the afternoon discount line, which
    shares only the time of day). Words of when and for whom (下午, 今天, 我妈) say nothing of
    the topic."""
    top = lines[0] if lines else None
    if top is None or top in chosen.lines or chosen.lines[0].score > WEAK_PICK * top.score:
        return chosen
    asked = evidence_mod.content_pairs(CONTEXT_WORDS.sub(" ", question))
    on_top = asked & evidence_mod.line_pairs(top)
    if not on_top or any(asked & evidence_mod.line_pairs(e) - on_top for e in chosen.lines):
        return chosen
    return Grounding([top], "weak_pick", {**chosen.notes,
                                           "overruled": [e.render() for e in chosen.lines[:2]]})


def excepted(question: str, lines: list[Evidence], chosen: Grounding) -> Grounding | str:
    """The customer's case is one a shop rule leaves out, and the chosen lines state the rule
    for everyone else: a small model answers "住乡镇能免费装吗" with "免费上门安装（偏远乡镇除外）",
    and "开了封的饼干能退吗" with the seven-day return rule, not with the line that excludes
    exactly that ("开封后的食品不退不换").

    - A chosen line leaves out the very case the customer names (its "…除外", "除…外",
      "…不在此列" shares a word with the question): the best line that speaks of that case
      instead, or the owner when no line does.
    - Another line refuses or leaves out something (`evidence.refuses`) and is the only line
      with a word of the customer's that the chosen lines lack (开封): that line first,
      then the chosen ones. The general rule stays beside its exception.
    Words of when and for whom (今天, 我妈) say nothing of the case."""
    asked = evidence_mod.content_pairs(CONTEXT_WORDS.sub(" ", question))
    if not asked or not chosen.lines:
        return chosen
    pairs = [evidence_mod.line_pairs(o) for o in lines]
    for e in chosen.lines:
        for case in evidence_mod.excluded_cases(e.text):
            named = evidence_mod.content_pairs(case) & asked
            if not named:
                continue
            about = [o for o, p in zip(lines, pairs, strict=True)
                     if o not in chosen.lines and named & p]
            if not about:
                return "the shop's line leaves out the customer's case and no line speaks of it"
            return Grounding(about[:1], "excepted", {
                **chosen.notes, "left_out": case,
                "overruled": [c.render() for c in chosen.lines[:2]]})
    if any(evidence_mod.refuses(e) for e in chosen.lines):
        return chosen  # the chosen lines already say what is left out
    said = set().union(*(evidence_mod.line_pairs(e) for e in chosen.lines))
    for i, o in enumerate(lines):
        if o in chosen.lines or not evidence_mod.refuses(o):
            continue
        own = asked & pairs[i] - said
        only_here = {w for w in own if not any(w in p for j, p in enumerate(pairs) if j != i)}
        if only_here:
            return Grounding([o, *chosen.lines][:MAX_LINES], "excepted", {
                **chosen.notes, "case": sorted(only_here)})
    return chosen


def clear_top(text: str, question: str, found: Found,
              mentions: Callable[[str], bool] | None) -> Grounding | str:
    """A reply that restates no line. A bare yes or no ("可以。" to "楼下能停车吗") says which way
    but not the shop's terms; "not in the data" from the model, against one line that stands
    far above the rest, is the model's doubt, not the data's. Then that line; any other reply
    of the model's own (an opinion, an invented answer) is the owner's to answer."""
    lines = found.lines
    unsure = bool(_UNSURE.search(text)) and not figures(normalise(text))
    bare = evidence_mod.bare(text) or evidence_mod.echo(text, question)
    top = lines[0]
    runner_up = lines[1].score if len(lines) > 1 else 0.0
    lead = top.score - runner_up
    if bare and top.score >= CLEAR_TOP and lead >= CLEAR_MARGIN and guard.unknown_topic(
            question, found.passages, mentions, found.lexicon) is None:
        return Grounding([top] + defined([top], found.all_lines), "clear_top",
                         {"runner_up": round(runner_up, 4), "bare_text": text[:50]})
    if unsure and top.score >= UNSURE_TOP and lead >= UNSURE_MARGIN:
        return Grounding([top] + defined([top], found.all_lines), "clear_top",
                         {"runner_up": round(runner_up, 4), "unsure": True})
    if unsure:
        return "model found no answer in the shop data"
    return "reply not grounded in the shop data"


def named_day(question: str, found: Found) -> tuple[list[Evidence], list[Evidence]]:
    """The customer names a day ("礼拜六几点打烊", "初五开门吗", "平时几点关") and asks about one
    of the shop's topics (营业时间, 配送…), or about none ("初五能过去吗": whether the shop is
    open then): the lines that speak of that topic in the shop's
    words and whose day span holds the asked days, fewest lines first (the 周一至周四 row and
    the 周五、周六 row for 平时; for 礼拜六 the row of 周五、周六, not the Friday and Saturday
    evening offer that names those days too). Returns (the lines that answer, every line that speaks of the topic and a day
    asked): a reply resting on one of the latter is left as the model chose."""
    asked = days(question)
    if not asked:
        return [], []
    # general vocabulary only: the shop's own paraphrases tie a word to a whole answer (晚上 →
    # the evening discount), not to a topic
    general = Lexicon.general()
    terms = {t for _, ts in general.synonyms(question) for t in ts if not days(t)}
    if not terms:
        # a day named and nothing else asked of it ("初一能过去吗", "周五晚上还能来吗"): whether
        # the shop is open then
        terms = {t for w, ts in general.synonyms(_OPENING) for t in (w, *ts)}
    pool = []
    for i, e in enumerate(found.all_lines):
        text = evidence_mod.normalise_query(f"{e.heading} {e.text}")
        spans = days(f"{e.heading} {e.text}")
        hits = sum(1 for t in terms if t in text)
        if hits and spans & asked:
            pool.append((e, spans, hits, i))
    cover: list[Evidence] = []
    left = set(asked)
    while left and len(cover) < MAX_LINES:
        open_ = [c for c in pool if c[1] & left and c[0] not in cover]
        if not open_:
            break
        best = max(open_, key=lambda c: (c[2], len(c[1] & left - {"hol"}), len(c[1] & left),
                                         -len(c[1]), -c[3]))
        cover.append(best[0])
        left -= best[1]
    return cover, [c[0] for c in pool]


# the topic a named day asks about when the question names no other (general vocabulary)
_OPENING = "营业时间"


_CHEAPEST = re.compile(r"最(?:便宜|实惠|低价|低的|少钱|划算)|价格?最低|最低价|起步价|最少要?多少钱")
_DEAREST = re.compile(r"最贵|价格?最高|最高价|最高档|最豪华")


def priced_extreme(question: str, found: Found) -> Evidence | None:
    """The cheapest (or dearest) row of the price table the customer names ("花束最便宜几块钱"
    → the bouquet row with the lowest price), from the table itself: a model reading six
    lines takes the first price it sees."""
    pick = min if _CHEAPEST.search(question) else max if _DEAREST.search(question) else None
    if pick is None:
        return None
    asked = evidence_mod.content_pairs(question)
    tables: dict[tuple, list[tuple[float, Evidence]]] = {}
    for e in found.all_lines:
        price = _price(e)
        if price is None:
            continue
        key = (e.source, e.heading, tuple(h for h, _ in e.cells))
        named = asked & evidence_mod.content_pairs(f"{e.cells[0][0]} {e.cells[0][1]} {e.heading}")
        if named:
            tables.setdefault(key, []).append((price, e))
    rows = max(tables.values(), key=len, default=[])
    if len(rows) < 2:
        return None
    return pick(rows, key=lambda t: t[0])[1]


def _price(e: Evidence) -> float | None:
    """A table row's price: the first figure of its price column (价格, 售价, 价格(元)…)."""
    for header, cell in e.cells:
        if "价" in header:
            for f in figures(normalise(cell)):
                if f.kind in ("money", "number"):
                    return f.value
    return None


def _off_topic(text: str, question: str, found: Found, guarded: list[str],
               mentions: Callable[[str], bool] | None) -> bool:
    """The question may be about something the shop never wrote of ("招不招学徒？礼拜天能来
    上班吗"): the model's reply took up a word the data never uses, or it found no answer and the
    question has such a word. Its day and topic words are then no reason to answer."""
    for r in guarded:
        if r.startswith("blocked:unsupported_topic:"):
            word = r.rsplit(":", 1)[1]
            at = text.find(word)
            said = guard.sentence_at(text, at) if at >= 0 else ""
            if not _ASKED_BACK.search(said):
                return True
    return bool(_UNSURE.search(text)) and guard.unknown_topic(
        question, found.passages, mentions, found.lexicon) is not None


# A sentence the model asks back ("初五想来喝茶，店开着没？" repeats the customer's
# question): it says nothing of its own about the words in it.
_ASKED_BACK = re.compile(r"[？?]\s*$|吗[。！!]?\s*$")


def defined(chosen: list[Evidence], pool: list[Evidence]) -> list[Evidence]:
    """Lines of `pool` (see `Found.all_lines`) that define a code the chosen lines use (二区 →
    "二区：5-10公里")."""
    text = "\n".join(e.text for e in chosen)
    return [e for e in evidence_mod.definitions(text, pool) if e not in chosen]


def compose(lines: list[Evidence]) -> str:
    """The reply: the chosen lines as a shop assistant says them, each once."""
    said = [evidence_mod.speak(e) for e in lines]
    return "\n".join(dict.fromkeys(s for s in said if s))


def tier_of(completion, llm: LLMBackend) -> Tier:
    name = completion.meta.get("tier") or getattr(llm, "tier", "local")
    return Tier.CLOUD if name == "cloud" else Tier.LOCAL


def _jsonable(value):
    return value.to_json() if hasattr(value, "to_json") else value
