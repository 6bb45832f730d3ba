"""The handoff queue: chats a human must answer. Claim, reply (in the conversation), resolve."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..format import clip, hhmm
from ..widgets import PromptScreen
from .listing import ListScreen

STATE_LABELS = {"open": ("待认领", "bold yellow"), "claimed": ("处理中", "cyan")}


class HandoffScreen(ListScreen):
    HEADING = "转人工队列（未解决）"
    TABLE_ID = "handoffs"
    COLUMNS = (("#", "id", 4), ("时间", "at", 8), ("顾客", "customer", 10), ("状态", "state", 6),
               ("原因", "reason", 20), ("顾客的话", "question", 40))

    BINDINGS = [
        Binding("escape", "back", "返回"),
        Binding("c", "claim", "认领"),
        Binding("enter", "reply", "回复"),
        Binding("x", "resolve", "解决"),
    ]

    def fetch(self, reader):
        return reader.open_handoff_rows()

    def cells(self, r):
        label, style = STATE_LABELS.get(r["state"], (r["state"], ""))
        return (str(r["id"]), hhmm(r["created_at"]), clip(r["customer"], 10),
                Text(label, style=style), clip(r["reason"], 20), clip(r["question"], 40))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_reply()

    def action_claim(self) -> None:
        hid = self.selected()
        if hid is not None and self.app.bridge:
            self.app.engine_call(self.app.bridge.update_handoff(hid, "claimed"), "已认领")

    def action_reply(self) -> None:
        from .conversation import ConversationScreen

        hid = self.selected()
        if hid is None or self.app.bridge is None:
            return
        row = self._rows.get(hid)
        if row is None:
            return
        if row["state"] == "open":  # replying is claiming
            self.app.engine_call(self.app.bridge.update_handoff(hid, "claimed"))
        self.app.push_screen(ConversationScreen(row["customer_id"]))

    def action_resolve(self) -> None:
        hid = self.selected()
        bridge = self.app.bridge
        if hid is None or bridge is None:
            return

        def done(note: str | None) -> None:
            if note is not None:
                self.app.engine_call(bridge.update_handoff(hid, "resolved", note or None),
                                     "已解决，AI 恢复接待这位顾客")

        self.app.push_screen(PromptScreen("处理说明（可留空），回车确认解决"), done)
