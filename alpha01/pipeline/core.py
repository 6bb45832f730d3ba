"""The decision part of the pipeline: rules → retrieval → generation (+ guard).

Runs without touching the database, so it can be tested on its own and timed per stage. The
engine supplies the customer's history and writes the outcome.
"""

from __future__ import annotations

import time
from datetime import datetime

from ..config import Settings
from ..domain import Action, Decision, Rule
from ..llm.base import LLMBackend
from . import generation, retrieval, rules
from .hours import is_open
from .retrieval import Retriever


class Pipeline:
    def __init__(self, *, settings: Settings, retriever: Retriever, llm: LLMBackend,
                 canary: str) -> None:
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.canary = canary
        self.ruleset = rules.RuleSet([])

    def set_rules(self, rule_list: list[Rule]) -> None:
        self.ruleset = rules.RuleSet(rule_list)

    def decide(self, question: str, *, sender: str, history: list[tuple[str, str]],
               when: datetime) -> Decision:
        """Run the stages until one is terminal; the result carries every stage's trace."""
        stages: list[dict] = []
        open_now = is_open(self.settings.hours, when)

        def run(name: str, fn, *args, **kwargs) -> Decision:
            started = time.perf_counter()
            d = fn(*args, **kwargs)
            stages.append({"stage": name, "action": str(d.action), "reason": d.reason,
                           "ms": round((time.perf_counter() - started) * 1000, 3)})
            return d

        d = run("rules", rules.evaluate, self.ruleset, question, sender, is_open=open_now,
                shop=self.settings.shop)
        if not d.terminal:
            started = time.perf_counter()
            found = retrieval.retrieve(self.retriever, question, self.settings.knowledge)
            step = found if isinstance(found, Decision) else found.decision
            stages.append({"stage": "retrieval", "action": str(step.action),
                           "reason": step.reason,
                           "ms": round((time.perf_counter() - started) * 1000, 3)})
            if isinstance(found, Decision):
                d = found
                if d.action is Action.HANDOFF and d.reply is None:
                    d = generation.safe_handoff(self.settings, d.reason, open_now, **d.trace)
            else:
                d = run("generation", generation.generate, self.llm, question=question,
                        found=found, history=history, settings=self.settings,
                        canary=self.canary, is_open=open_now,
                        mentions=getattr(self.retriever, "mentions", None))
                d.trace.setdefault("passages", found.decision.trace["passages"])
                d.trace.setdefault("evidence", found.decision.trace["evidence"])
                d.trace["considered"] = found.decision.trace["considered"]
        d.trace["stages"] = stages
        d.trace["open"] = open_now
        return d
