"""Generation: a grounded answer from the model, checked by the guard, or a safe handoff.

The model only ever sees the shop's passages and the conversation; when retrieval found
nothing relevant it is not asked at all (a question the shop's data cannot answer is never
answered from the model's imagination).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from ..config import Settings
from ..domain import Decision, Passage, Tier
from ..errors import LLMError
from ..llm.base import LLMBackend
from . import evidence as evidence_mod
from . import guard, prompt
from .evidence import Evidence

# A reply that only says "not in the data / I cannot tell / ask the owner".
_UNSURE = re.compile(
    r"需要.{0,6}确认|(?:跟|向|和|与)(?:店主|老板|店家|客服|商家).{0,4}(?:确认|咨询|联系)|不确定|不太清楚|"
    r"不清楚|没有(?:找到)?(?:相关|这方面|具体|明确)?的?(?:信息|资料|说明|记录)|"
    r"(?:资料|信息)(?:里|中)?(?:没有|未)(?:提到|提及|说明|写)|无法(?:提供|回答|确定|告知|得知)|"
    r"暂时(?:无法|不能)(?:回答|确定)|"
    r"(?:尽快|稍后|马上|随后)(?:为您|帮您|给您|跟您)?(?:确认|核实|查询|查一下|回复)"
)


# How far below the best line (in evidence score) the line a reply restates may rank before
# the best line is sent instead.
TOP_MARGIN = 0.15
# A bare yes or no is answered with the best line when it scores at least this and leads the
# next line by this much (on the eval shop: 停车 line 0.36 and 0.13 ahead for "门口能停吗";
# the unrelated lines of unanswerable questions stay below or tie).
BARE_TOP = 0.3
BARE_MARGIN = 0.1


def _safe_handoff(settings: Settings, reason: str, is_open: bool, **trace) -> Decision:
    reply = settings.shop.safe_reply if is_open else settings.shop.after_hours_reply
    d = Decision.handoff(reply, reason, **trace)
    d.tier = Tier.FALLBACK
    return d


def generate(llm: LLMBackend, *, question: str, passages: list[Passage],
             history: list[tuple[str, str]], settings: Settings, canary: str,
             relevant: bool, is_open: bool = True,
             evidence: list[Evidence] | None = None,
             mentions: Callable[[str], bool] | None = None) -> Decision:
    """The generation + guard stages. Always terminal: RESPOND (local/cloud) or HANDOFF.

    The model reads `evidence` (the lines of the passages that bear on the question) when
    given, else the passages themselves; the guard checks the reply against all passages."""
    if not relevant:
        return _safe_handoff(settings, "no relevant shop data", is_open)
    if not llm.available():
        return _safe_handoff(settings, "no model available", is_open, llm=llm.name)
    # The shop's stock replies ("需要跟店主确认") say nothing, and a small model copies what it
    # said before: a customer once handed off would get the same non-answer to every question.
    stock = {settings.shop.safe_reply.strip(), settings.shop.after_hours_reply.strip(),
             settings.shop.handoff_reply.strip()}
    history = [(role, text) for role, text in history if (text or "").strip() not in stock]
    messages = prompt.build_messages(shop=settings.shop, passages=passages, history=history,
                                     question=question, canary=canary, evidence=evidence)
    deadline = time.monotonic() + settings.llm.reply_deadline_s
    try:
        completion = llm.complete(messages, max_tokens=settings.llm.max_tokens,
                                  temperature=settings.llm.temperature, deadline=deadline)
    except LLMError as exc:
        route = getattr(exc, "route", None)
        return _safe_handoff(settings, f"model failed: {type(exc).__name__}", is_open,
                             llm=llm.name, error=str(exc)[:300],
                             **({"route": _jsonable(route)} if route else {}))
    info = {"model": completion.model, "served_by": completion.served_by,
            "tokens_in": completion.tokens_in, "tokens_out": completion.tokens_out,
            "llm_ms": round(completion.latency_ms, 1)}
    if completion.meta.get("route"):
        info["route"] = _jsonable(completion.meta["route"])
    for key in ("ttft_ms", "prompt_threads"):
        if completion.meta.get(key) is not None:
            info[key] = completion.meta[key]
    checked = guard.check(completion.text, question=question, passages=passages,
                          system_prompt=messages[0]["content"], canary=canary,
                          mentions=mentions)
    if not checked.ok:
        return _safe_handoff(settings, "guard blocked the reply", is_open,
                             guard=checked.reasons, blocked_text=completion.text[:500], **info)
    if _UNSURE.search(checked.text) and not guard.figures(guard.normalise(checked.text)):
        # The model says the data does not answer it, in its own words: give the shop's
        # agreed safe reply and a note for the owner instead of a vague non-answer.
        return _safe_handoff(settings, "model found no answer in the shop data", is_open,
                             unsure_text=checked.text[:300], **info)
    tier = tier_of(completion, llm)
    text = checked.text
    lines = evidence or []
    used = evidence_mod.paraphrased(text, lines, question)
    if evidence and not used:
        top = lines[0]
        runner_up = lines[1].score if len(lines) > 1 else 0.0
        if (evidence_mod.bare(text) and top.score >= BARE_TOP
                and top.score - runner_up >= BARE_MARGIN
                and guard.unknown_topic(question, passages, mentions) is None):
            # "可以。" to "门口能停吗": which way, but not the shop's terms (限停15分钟). The
            # line clearly best for the question holds them: send it as the shop wrote it.
            info.update(bare_text=text[:50])
            return Decision.respond(top.reply(), tier_of(completion, llm),
                                    f"answered by {completion.served_by}",
                                    guard=checked.reasons, **info)
        # Nothing of the reply comes from a line the model was shown ("不可以。", "明天成都下雨"):
        # it answered from its own head. The owner answers instead.
        return _safe_handoff(settings, "reply not grounded in the shop data", is_open,
                             ungrounded_text=text[:300], **info)
    top = lines[0] if lines else None
    missed = evidence_mod.missed_terms(question, top, used) if top is not None else []
    if top is not None and top not in used and (
            top.score - max(e.score for e in used) >= TOP_MARGIN or missed):
        # The model answered from a line ranked far below the best one ("今天能拿到礼盒吗":
        # the pick-up-in-30-minutes line, not "礼盒需要提前1天预订"), or from one that does not
        # speak of what was asked (专票 asked, 普通发票 answered). On the eval shop the best
        # line held the answer far more often than the model's pick did: send the best line.
        info.update(overruled=[e.render() for e in used[:2]], model_text=text[:300])
        if missed:
            info["missed"] = missed
        return Decision.respond(top.reply(), tier, f"answered by {completion.served_by}",
                                guard=checked.reasons, **info)
    fit, misfit = evidence_mod.range_rows(question, lines)
    misfit = misfit if fit else []
    wrong = [e for e in used
             if e in misfit and evidence_mod.figures_taken(text, e, fit[0], question)]
    if wrong:
        # The customer's quantity lies in one row of a range table ("离店5公里": 3-6公里) and
        # the model quoted a neighbouring row: send the row that applies, as the shop wrote it.
        keep = fit[:1] + [e for e in used if e not in misfit and e not in fit][:1]
        info.update(wrong_row=[e.render() for e in wrong], model_text=text[:300])
        return Decision.respond("\n".join(e.reply() for e in keep), tier,
                                f"answered by {completion.served_by}", guard=checked.reasons,
                                **info)
    # the line it restates most, and a second one only if it takes a figure from it too;
    # either only if most of the reply comes from it (not two words and a phone number)
    used = [e for e in used[:1] + [e for e in used[1:2]
                                   if evidence_mod.figures_taken(text, e, used[0], question)]
            if evidence_mod.figures_taken(text, e, None, question)
            or evidence_mod.share(text, e) >= 0.5]
    dropped = [f for e in used for f in guard.dropped_figures(e.text, text)]
    if dropped:
        # The model restated the shop's rules but left out their figures — the conditions of a
        # refund, the hours, the threshold. A rule without its conditions is a promise the
        # shop did not make: send the shop's own lines instead.
        info.update(restated=[e.render() for e in used], dropped=dropped, model_text=text[:300])
        text = "\n".join(e.reply() for e in used)
    shown = {e.text for e in lines}
    defined = evidence_mod.definitions(
        text, lines + [e for e in evidence_mod.lines_of(passages) if e.text not in shown])
    if defined:
        # "A区支持1小时送达" with what A区 is, in the shop's words
        info["defined"] = [e.render() for e in defined]
        text = "\n".join([text, *(e.reply() for e in defined)])
    return Decision.respond(text, tier, f"answered by {completion.served_by}",
                            guard=checked.reasons, **info)


def tier_of(completion, llm: LLMBackend) -> Tier:
    name = completion.meta.get("tier") or getattr(llm, "tier", "local")
    return Tier.CLOUD if name == "cloud" else Tier.LOCAL


def _jsonable(value):
    return value.to_json() if hasattr(value, "to_json") else value
