"""The handoff queue: chats a human must answer. Claim, reply (in the conversation), resolve."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from ..format import clip, hhmm
from ..widgets import PromptScreen

STATE_LABELS = {"open": ("待认领", "bold yellow"), "claimed": ("处理中", "cyan")}


class HandoffScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "返回"),
        Binding("c", "claim", "认领"),
        Binding("enter", "reply", "回复"),
        Binding("x", "resolve", "解决"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("转人工队列（未解决）", classes="section-title")
        yield DataTable(id="handoffs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key, width in (("#", "id", 4), ("时间", "at", 8), ("顾客", "customer", 10),
                                  ("状态", "state", 6), ("原因", "reason", 20),
                                  ("顾客的话", "question", 40)):
            table.add_column(label, key=key, width=width)
        table.focus()
        self.ready = True
        self.refresh_data()

    def refresh_data(self, status_only: bool = False) -> None:
        bridge = self.app.bridge
        if bridge is None or status_only:
            return
        table = self.query_one(DataTable)
        keep = self.selected()
        table.clear()
        self._rows = {}
        for r in bridge.reader.open_handoff_rows():
            label, style = STATE_LABELS.get(r["state"], (r["state"], ""))
            table.add_row(str(r["id"]), hhmm(r["created_at"]), clip(r["customer"], 10),
                          Text(label, style=style), clip(r["reason"], 20),
                          clip(r["question"], 40), key=str(r["id"]))
            self._rows[r["id"]] = r
        if keep is not None and str(keep) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep)), animate=False)

    def selected(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return int(key.value) if key.value is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_reply()

    def action_back(self) -> None:
        self.app.pop_screen()

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
