"""One measured figure, and the table they print as."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class Row:
    section: str
    metric: str
    value: float
    unit: str
    target: str = ""  # e.g. ">= 1000" or "<= 10"
    ok: bool | None = None  # None: no target

    @classmethod
    def check(cls, section: str, metric: str, value: float, unit: str, target: str) -> Row:
        """A row held against a target written as '>= N' or '<= N'."""
        op, _, bound = target.partition(" ")
        limit = float(bound)
        ok = value >= limit if op == ">=" else value <= limit
        return cls(section, metric, value, unit, target, ok and not math.isnan(value))

    def format(self) -> str:
        mark = {True: "ok", False: "MISS", None: ""}[self.ok]
        value = f"{self.value:,.3f}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        target = f"(target {self.target})" if self.target else ""
        return f"{self.metric:<52} {value:>12} {self.unit:<8} {target:<18} {mark}"

    @staticmethod
    def table(rows: list[Row]) -> str:
        lines = [f"{'section':<10} {'metric':<52} {'value':>12} {'unit':<8} {'target':<18} ok"]
        for r in rows:
            lines.append(f"{r.section:<10} {r.format()}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return asdict(self)
