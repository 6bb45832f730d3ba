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
   below the best one is *not* overruled: on the unseen shop the model's pick was right more
   often than the ranking's top line);
5. `clear_top`: the reply restates nothing, but is a bare 可以 or says the data does not answer,
   and one line is clearly the best for the question: that line;
6. otherwise the shop's safe reply and a note for the owner;
7. `defined`: a code the lines use (A区) comes with the line that defines it, and a code a
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
from ..textmatch import figures, normalise
from . import evidence as evidence_mod
from . import guard, prompt
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
# The first line a reply restates must rank above this (0-based) among the evidence lines.
DEEP_LINE = 5
CLEAR_TOP = 0.3
CLEAR_MARGIN = 0.1
UNSURE_TOP = 0.6
UNSURE_MARGIN = 0.3
# Guard findings that mean the reply played along with the customer: not a wrong line, an
# attack. Nothing of such a reply, not even the line it restates, is sent.
_ATTACK = ("blocked:canary", "blocked:system_prompt_overlap", "blocked:role_label",
           "blocked:agrees_to_customer_figure", "blocked:action_claim", "blocked:echo",
           "blocked:promise", "blocked:commitment", "blocked:time_promise", "blocked:code")


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
        return safe_handoff(settings, "guard blocked the reply", is_open,
                             guard=checked.reasons, step="attack", **info)
    if any(r.startswith(_INVENTED_PRICE) for r in checked.reasons):
        # a price, discount or percentage the shop's data does not state: the model answers
        # from its own head, so the lines it also restates are no answer either
        return safe_handoff(settings, "model invented a price", is_open,
                            guard=checked.reasons, step="invented_price", **info)
    grounding = ground(checked.text, question=question, found=found, guarded=checked.reasons,
                       mentions=mentions)
    if isinstance(grounding, str):
        return safe_handoff(settings, grounding, is_open, guard=checked.reasons, **info)
    tier = tier_of(completion, llm)
    return Decision.respond(compose(grounding.lines), tier,
                            f"answered by {completion.served_by} from the shop's lines",
                            guard=checked.reasons, step=grounding.step,
                            lines=[e.render() for e in grounding.lines], **grounding.notes,
                            **info)


def ground(text: str, *, question: str, found: Found, guarded: list[str] = (),
           mentions: Callable[[str], bool] | None = None) -> Grounding | str:
    """The shop lines the model's reply `text` rests on (see the module docstring for the
    steps), or the reason to hand off instead."""
    lines = found.lines
    used = [e for e in restated(text, lines, question)
            if evidence_mod.speaks_of(question, e, found.lexicon)]
    if not used:
        return clear_top(text, question, found, mentions)
    topical = [r for r in guarded if r.startswith("blocked:unsupported_topic")]
    if topical and not any(evidence_mod.figures_taken(text, e, None, question) for e in used):
        # It speaks of something the shop's data never mentions ("有洗手间"), and no figure
        # ties it to a line: the words it shares with a line are incidental.
        return "reply speaks of a topic the shop data never mentions"
    if lines.index(used[0]) >= DEEP_LINE:
        # the reply rests on a line near the bottom of what the question found: on the eval
        # shops every such answer was a figure grabbed from the wrong line
        return "reply rests on a line far down the shop data found for the question"
    chosen = Grounding(used, "restated")
    chosen = range_row(question, lines, chosen, text)
    chosen = named_row(question, lines, chosen)
    chosen = named_term(question, lines, chosen, found)
    pool = _all_lines(found)
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
    for e in used[1:]:
        if len(chosen) >= MAX_LINES:
            break
        if all(evidence_mod.figures_taken(text, e, c, question) for c in chosen):
            chosen.append(e)
    return [e for e in chosen if evidence_mod.figures_taken(text, e, None, question)
            or evidence_mod.share(text, e) >= 0.5]


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


def clear_top(text: str, question: str, found: Found,
              mentions: Callable[[str], bool] | None) -> Grounding | str:
    """A reply that restates no line. A bare yes or no ("可以。" to "门口能停吗") says which way
    but not the shop's terms; "not in the data" from the model, against one line that stands
    far above the rest, is the model's doubt, not the data's. Then that line; any other reply
    of the model's own (an opinion, an invented answer) is the owner's to answer."""
    lines = found.lines
    unsure = bool(_UNSURE.search(text)) and not figures(normalise(text))
    bare = evidence_mod.bare(text)
    top = lines[0]
    runner_up = lines[1].score if len(lines) > 1 else 0.0
    lead = top.score - runner_up
    if bare and top.score >= CLEAR_TOP and lead >= CLEAR_MARGIN and guard.unknown_topic(
            question, found.passages, mentions, found.lexicon) is None:
        return Grounding([top] + defined([top], _all_lines(found)), "clear_top",
                         {"runner_up": round(runner_up, 4), "bare_text": text[:50]})
    if unsure and top.score >= UNSURE_TOP and lead >= UNSURE_MARGIN:
        return Grounding([top] + defined([top], _all_lines(found)), "clear_top",
                         {"runner_up": round(runner_up, 4), "unsure": True})
    if unsure:
        return "model found no answer in the shop data"
    return "reply not grounded in the shop data"


def defined(chosen: list[Evidence], pool: list[Evidence]) -> list[Evidence]:
    """Lines of `pool` (see `_all_lines`) that define a code the chosen lines use (A区 →
    "A区：3公里以内")."""
    text = "\n".join(e.text for e in chosen)
    return [e for e in evidence_mod.definitions(text, pool) if e not in chosen]


def _all_lines(found: Found) -> list[Evidence]:
    """The lines shown to the model, then every other line of the retrieved passages."""
    shown = {e.text for e in found.lines}
    return found.lines + [e for e in evidence_mod.lines_of(found.passages) if e.text not in shown]


def compose(lines: list[Evidence]) -> str:
    """The reply: the chosen lines as a shop assistant says them, each once."""
    said = [evidence_mod.speak(e) for e in lines]
    return "\n".join(dict.fromkeys(s for s in said if s))


def tier_of(completion, llm: LLMBackend) -> Tier:
    name = completion.meta.get("tier") or getattr(llm, "tier", "local")
    return Tier.CLOUD if name == "cloud" else Tier.LOCAL


def _jsonable(value):
    return value.to_json() if hasattr(value, "to_json") else value
