"""Generation: a grounded answer from the model, checked by the guard, or a safe handoff.

The model only ever sees the shop's passages and the conversation; when retrieval found
nothing relevant it is not asked at all (a question the shop's data cannot answer is never
answered from the model's imagination).
"""

from __future__ import annotations

import time

from ..config import Settings
from ..domain import Decision, Passage, Tier
from ..errors import LLMError
from ..llm.base import LLMBackend
from . import guard, prompt


def _safe_handoff(settings: Settings, reason: str, is_open: bool, **trace) -> Decision:
    reply = settings.shop.safe_reply if is_open else settings.shop.after_hours_reply
    d = Decision.handoff(reply, reason, **trace)
    d.tier = Tier.FALLBACK
    return d


def generate(llm: LLMBackend, *, question: str, passages: list[Passage],
             history: list[tuple[str, str]], settings: Settings, canary: str,
             relevant: bool, is_open: bool = True) -> Decision:
    """The generation + guard stages. Always terminal: RESPOND (local/cloud) or HANDOFF."""
    if not relevant:
        return _safe_handoff(settings, "no relevant shop data", is_open)
    if not llm.available():
        return _safe_handoff(settings, "no model available", is_open, llm=llm.name)
    messages = prompt.build_messages(shop=settings.shop, passages=passages, history=history,
                                     question=question, canary=canary)
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
    if completion.meta.get("ttft_ms") is not None:
        info["ttft_ms"] = completion.meta["ttft_ms"]
    checked = guard.check(completion.text, question=question, passages=passages,
                          system_prompt=messages[0]["content"], canary=canary)
    if not checked.ok:
        return _safe_handoff(settings, "guard blocked the reply", is_open,
                             guard=checked.reasons, blocked_text=completion.text[:500], **info)
    tier_name = completion.meta.get("tier") or getattr(llm, "tier", "local")
    tier = Tier.CLOUD if tier_name == "cloud" else Tier.LOCAL
    return Decision.respond(checked.text, tier, f"answered by {completion.served_by}",
                            guard=checked.reasons, **info)


def _jsonable(value):
    return value.to_json() if hasattr(value, "to_json") else value
