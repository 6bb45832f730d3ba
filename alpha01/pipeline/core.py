"""The decision part of the pipeline: rules → retrieval → generation (+ guard).

Runs without touching the database, so it can be tested on its own and timed per stage. The
engine supplies the customer's history and writes the outcome.
"""

from __future__ import annotations

import time
from datetime import datetime

from ..config import Settings
from ..domain import Decision, Rule
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
            found = run("retrieval", retrieval.retrieve, self.retriever, question,
                        self.settings.knowledge)
            if found.terminal:
                d = found
            else:
                passages = found.trace.pop("_passages")
                lines = found.trace.pop("_evidence")
                d = run("generation", generation.generate, self.llm, question=question,
                        passages=passages, evidence=lines, history=history,
                        settings=self.settings, canary=self.canary,
                        relevant=found.trace["relevant"], is_open=open_now,
                        mentions=getattr(self.retriever, "mentions", None))
                d.trace.setdefault("passages", found.trace["passages"])
                d.trace.setdefault("evidence", found.trace["evidence"])
                d.trace["considered"] = found.trace["considered"]
        d.trace["stages"] = stages
        d.trace["open"] = open_now
        return d
