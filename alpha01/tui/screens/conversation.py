"""One customer's conversation: history with each reply's trace, manual reply, pause, tags."""

from __future__ import annotations

import json

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from ..format import (
    OUTBOX_LABELS,
    WHO_LABELS,
    customer_state,
    hhmm,
    latency,
    load_trace,
    tier_text,
    trace_lines,
)
from ..widgets import PromptScreen, StatusBar

WHO_STYLES = {"in": "bold", "owner": "bold magenta", "bot": "bright_blue",
              "manual": "bold magenta"}


class ConversationScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "返回"),
        Binding("f2", "pause", "暂停AI"),
        Binding("f3", "resume", "恢复AI"),
        Binding("f4", "tag", "标签"),
        Binding("f5", "toggle_trace", "显示/隐藏依据"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.show_trace = True
        self._sig: tuple | None = None
        self.history_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="conv-head")
        with VerticalScroll(id="conv-history"):
            yield Static(id="conv-body")
        yield Input(placeholder="输入回复，回车发送（经发件箱与节奏控制发出；发送即暂停 AI）",
                    id="reply")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#reply", Input).focus()
        self.ready = True
        self.refresh_data()

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self, status_only: bool = False) -> None:
        bridge = self.app.bridge
        if bridge is None:
            return
        now = bridge.engine.clock.now()
        row = bridge.reader.customer_row(self.customer_id)
        if row is None:
            self.query_one("#conv-head", Static).update("这位顾客的资料已删除")
            return
        label, style = customer_state(row, now)
        tags = json.loads(row["tags"] or "[]")
        head = Text()
        head.append(f" {row['remark'] or row['name']} ", style="bold reverse")
        head.append(f"  {row['channel']} · {row['chat']}  ", style="dim")
        head.append(label, style=style)
        if tags:
            head.append("  标签: " + "、".join(tags), style="cyan")
        self.query_one("#conv-head", Static).update(head)
        self.query_one(StatusBar).show(
            channels=bridge.channel_health(), model=self.app.model_label, risk=bridge.risk(),
            sync=("已注册", "green") if self.app.ctx.settings.sync.device_id else
            ("未配置", "dim"), engine_ok=self.app.engine_running)
        if status_only:
            return
        rows = bridge.reader.conversation(self.customer_id)
        sig = (len(rows), tuple((r["key"], r["state"]) for r in rows[-5:]), self.show_trace)
        if sig == self._sig:
            return
        self._sig = sig
        lines = self._history_lines(rows)
        self.history_text = "\n".join(t.plain for t in lines)
        self.query_one("#conv-body", Static).update(Group(*lines))
        self.query_one("#conv-history", VerticalScroll).scroll_end(animate=False)

    def _history_lines(self, rows: list) -> list[Text]:
        out: list[Text] = []
        for r in rows:
            who = r["who"]
            line = Text()
            line.append(f"{hhmm(r['at'])} ", style="dim")
            line.append(f"{WHO_LABELS.get(who, who)}：", style=WHO_STYLES.get(who, ""))
            line.append(r["text"])
            if who in ("bot", "manual"):
                line.append("  ")
                line.append_text(tier_text(r["tier"]))
                meta = [OUTBOX_LABELS.get(r["state"], r["state"])]
                if r["latency_ms"] is not None:
                    meta.append(latency(r["latency_ms"]))
                if r["reason"] and who == "bot":
                    meta.append(r["reason"])
                line.append(" · " + " · ".join(meta), style="dim")
                if r["error"]:
                    line.append(f" ({r['error']})", style="red")
            elif who == "in" and r["state"] == "ignored":
                line.append(f"  （未回复：{r['reason']}）", style="dim")
            out.append(line)
            if self.show_trace and who == "bot":
                out.extend(trace_lines(load_trace(r["trace"])))
        if not out:
            out.append(Text("（还没有消息）", style="dim"))
        return out

    # -- actions ------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "reply":
            return
        event.stop()
        text = event.value.strip()
        if not text or self.app.bridge is None:
            return
        event.input.value = ""
        self.app.engine_call(self.app.bridge.manual_reply(self.customer_id, text),
                             "回复已放入发件箱")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_pause(self) -> None:
        if self.app.bridge:
            self.app.engine_call(self.app.bridge.pause(self.customer_id), "已暂停 AI")

    def action_resume(self) -> None:
        if self.app.bridge:
            self.app.engine_call(self.app.bridge.resume(self.customer_id), "AI 已恢复")

    def action_toggle_trace(self) -> None:
        self.show_trace = not self.show_trace
        self.refresh_data()

    def action_tag(self) -> None:
        bridge = self.app.bridge
        if bridge is None:
            return
        row = bridge.reader.customer_row(self.customer_id)
        current = "、".join(json.loads(row["tags"] or "[]")) if row else ""

        def save(value: str | None) -> None:
            if value is None:
                return
            tags = [t.strip() for t in value.replace(",", "、").replace("，", "、").split("、")
                    if t.strip()]
            self.app.engine_call(bridge.set_tags(self.customer_id, tags), "标签已保存")

        self.app.push_screen(PromptScreen("顾客标签（用 、 或逗号分隔）", current), save)
