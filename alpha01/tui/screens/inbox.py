"""Unanswered inbox: questions the shop's data could not answer. Answer once → an FAQ."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Label

from ..format import clip, hhmm
from .listing import ListScreen


class InboxScreen(ListScreen):
    HEADING = "未解答的问题（转人工或“待确认”的回复）"
    TABLE_ID = "questions"
    COLUMNS = (("时间", "at", 8), ("顾客", "customer", 10), ("问题", "text", 44),
               ("原因", "reason", 22))

    BINDINGS = [
        Binding("escape", "back", "返回"),
        Binding("enter", "answer", "写答案", show=False),
        Binding("ctrl+s", "save", "存为FAQ"),
        Binding("ctrl+d", "dismiss_question", "忽略此问题"),
    ]

    def compose_below(self) -> ComposeResult:
        with Vertical(id="faq-form"):
            yield Label("问题（可改写得更通用）")
            yield Input(id="faq-question")
            yield Label("店主的答案（回车或 Ctrl+S 保存为 FAQ，立即生效）")
            yield Input(id="faq-answer", placeholder="例如：可以的，下单时备注一下就行。")

    def fetch(self, reader):
        return reader.unanswered()

    def cells(self, r):
        return (hhmm(r["received_at"]), clip(r["customer"], 10), clip(r["text"], 44),
                clip(r["reason"], 22))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._rows.get(int(event.row_key.value)) if event.row_key.value else None
        if row is not None:
            self.query_one("#faq-question", Input).value = row["text"]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_answer()

    def action_answer(self) -> None:
        self.query_one("#faq-answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "faq-question":
            self.query_one("#faq-answer", Input).focus()
        else:
            self.action_save()

    def action_save(self) -> None:
        bridge = self.app.bridge
        mid = self.selected()
        question = self.query_one("#faq-question", Input).value.strip()
        if not question and mid is not None and mid in self._rows:
            question = self._rows[mid]["text"]
        answer = self.query_one("#faq-answer", Input).value.strip()
        if bridge is None:
            return
        if not question or not answer:
            self.notify("问题和答案都要填写", severity="warning")
            return
        self.query_one("#faq-answer", Input).value = ""
        self.query_one("#faq-question", Input).value = ""
        self.app.engine_call(bridge.add_faq(question, answer, mid),
                             "已存为 FAQ，下一个同样的问题会直接回答",
                             then=lambda _: self.query_one(DataTable).focus())

    def action_dismiss_question(self) -> None:
        mid = self.selected()
        if mid is not None and self.app.bridge:
            self.app.engine_call(self.app.bridge.dismiss(mid), "已从收件箱移除")
