"""Small display helpers: labels, times and CJK-aware truncation (rich counts cell widths)."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.cells import cell_len
from rich.text import Text

TIER_LABELS = {
    "rule": "规则", "faq": "FAQ", "local": "本地模型", "cloud": "云端", "handoff": "转人工",
    "fallback": "待确认", "manual": "人工",
}
TIER_STYLES = {
    "rule": "cyan", "faq": "green", "local": "bright_blue", "cloud": "magenta",
    "handoff": "yellow", "fallback": "yellow", "manual": "bold white",
}
WHO_LABELS = {"in": "顾客", "owner": "店主", "bot": "机器人", "manual": "店主(TUI)"}
OUTBOX_LABELS = {"pending": "待发", "sending": "发送中", "sent": "已发", "failed": "失败",
                 "unknown": "未知", "cancelled": "已取消"}


def clip(text: str | None, width: int) -> str:
    """`text` on one line, cut to at most `width` terminal cells (a CJK character is 2)."""
    flat = " ".join((text or "").split())
    if cell_len(flat) <= width:
        return flat
    out, used = [], 0
    for ch in flat:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def hhmm(ts: float | None) -> str:
    if not ts:
        return "--:--"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def today_start(now: float | None = None) -> float:
    t = time.localtime(now if now is not None else time.time())
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def customer_state(row: Any, now: float) -> tuple[str, str]:
    """(label, style) of a conversation: who is answering this customer now."""
    if row["blocked"]:
        return "已屏蔽", "red"
    if row["handed_off"]:
        return "已转人工", "yellow"
    if row["paused_until"] and row["paused_until"] > now:
        left = int((row["paused_until"] - now) // 60) + 1
        return f"已暂停 {left}分", "bright_red"
    return "AI", "green"


def tier_text(tier: str | None) -> Text:
    if not tier:
        return Text("-", style="dim")
    return Text(TIER_LABELS.get(tier, tier), style=TIER_STYLES.get(tier, ""))


def latency(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def load_trace(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def trace_lines(trace: dict[str, Any]) -> list[Text]:
    """Why a reply said what it said: rule, passages with scores, guard reasons, model."""
    lines: list[Text] = []
    rule = trace.get("rule")
    if rule:
        lines.append(Text(f"   ↳ 规则 #{rule.get('id')} {rule.get('name')} → {rule.get('action')}",
                          style="cyan"))
    if "faq_score" in trace:
        lines.append(Text(f"   ↳ FAQ 匹配 {trace['faq_score']:.2f}", style="green"))
    for p in trace.get("passages", [])[:4]:
        label = p.get("question") or p.get("text") or ""
        lines.append(Text(f"   ↳ [{p.get('score', 0):.2f}] {p.get('source', '?')}: "
                          f"{clip(label, 60)}", style="dim"))
    if trace.get("model"):
        extra = f" · {trace['llm_ms']:.0f} ms" if trace.get("llm_ms") is not None else ""
        lines.append(Text(f"   ↳ 模型 {trace.get('served_by', '')} {trace['model']}"
                          f" · tokens {trace.get('tokens_in', 0)}/{trace.get('tokens_out', 0)}"
                          f"{extra}", style="dim"))
    guard = trace.get("guard")
    if guard:
        lines.append(Text("   ↳ 守卫: " + "; ".join(str(g) for g in guard), style="yellow"))
    if trace.get("blocked_text"):
        lines.append(Text(f"   ↳ 被拦截的草稿: {clip(trace['blocked_text'], 60)}", style="red"))
    if trace.get("error"):
        lines.append(Text(f"   ↳ 错误: {clip(str(trace['error']), 70)}", style="red"))
    return lines
