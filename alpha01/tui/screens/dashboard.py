"""The dashboard: live conversations, the message stream, today's counters, the status bar."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from ..format import WHO_LABELS, clip, customer_state, hhmm, latency, tier_text
from ..widgets import Counters, CustomerInput, ServerAlertsBar, StatusBar, counts_today


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "打开对话"),
        Binding("p", "pause", "暂停AI"),
        Binding("r", "resume", "恢复AI"),
        Binding("h", "handoffs", "转人工队列"),
        Binding("u", "inbox", "未解答"),
        Binding("k", "knowledge", "知识库"),
        Binding("c", "readiness", "准备检查"),
        Binding("s", "qr", "店铺二维码"),
        Binding("i", "type_customer", "扮演顾客"),
        Binding("escape", "focus_list", "回到列表", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dash-main"):
            with Vertical(id="dash-left"):
                yield Label("对话", classes="section-title")
                yield DataTable(id="conversations", cursor_type="row", zebra_stripes=True)
            with Vertical(id="dash-right"):
                yield Label("消息流", classes="section-title")
                yield DataTable(id="stream", cursor_type="row", zebra_stripes=True)
        yield Counters(id="counters")
        if self.app.customer_channel is not None:
            yield CustomerInput(placeholder="扮演顾客发消息（按 i 聚焦；可写 名字：内容），回车发送",
                                id="customer-input")
        yield ServerAlertsBar(id="server-alerts")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        conv = self.query_one("#conversations", DataTable)
        conv.add_column("顾客", key="name", width=9)
        conv.add_column("状态", key="state", width=10)
        conv.add_column("最后消息", key="last", width=24)
        stream = self.query_one("#stream", DataTable)
        for label, key, width in (("时间", "at", 8), ("顾客", "customer", 6), ("谁", "who", 8),
                                  ("内容", "text", 28), ("层级", "tier", 6),
                                  ("延迟", "lat", 7), ("模型", "model", 10)):
            stream.add_column(label, key=key, width=width)
        conv.focus()
        self.ready = True
        self.refresh_data()

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self, status_only: bool = False) -> None:
        bridge = self.app.bridge
        if bridge is None:
            self._status()
            return
        now = bridge.engine.clock.now()
        if not status_only:
            self._conversations(bridge.reader.conversations(), now)
            self._stream(bridge.reader.stream(60))
            self.query_one(Counters).show(counts_today(bridge.reader, now))
        self._status()

    def _conversations(self, rows: list[Any], now: float) -> None:
        table = self.query_one("#conversations", DataTable)
        keep = self.selected_customer()
        table.clear()
        for r in rows:
            label, style = customer_state(r, now)
            if r["open_handoffs"] and not r["handed_off"]:
                label, style = label + "·待答", "yellow"
            table.add_row(clip(r["remark"] or r["name"], 9), Text(label, style=style),
                          clip(r["last_text"], 24), key=str(r["id"]))
        if keep is not None and str(keep) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep)), animate=False)

    def _stream(self, rows: list[Any]) -> None:
        table = self.query_one("#stream", DataTable)
        table.clear()
        for r in rows:
            who = r["who"]
            text = clip(r["text"], 28)
            if who == "in" and r["state"] == "ignored":
                text = f"{text}（{clip(r['reason'], 12)}）"
            table.add_row(hhmm(r["at"]), clip(r["customer"], 6),
                          Text(WHO_LABELS.get(who, who), style="bold" if who == "in" else ""),
                          text, tier_text(r["tier"]) if who in ("bot", "manual") else "",
                          latency(r["latency_ms"]), clip(r["model"] or "", 10), key=r["key"])

    def _status(self) -> None:
        app = self.app
        settings = app.ctx.settings
        bridge = app.bridge
        sync = (("已注册", "green") if settings.sync.device_id else ("未配置", "dim"))
        self.query_one(StatusBar).show(
            channels=bridge.channel_health() if bridge else [],
            model=app.model_label, risk=bridge.risk() if bridge else 0.0, sync=sync,
            engine_ok=app.engine_running)
        held = app.server_alerts
        self.query_one(ServerAlertsBar).show(held.current() if held is not None else [],
                                             held.error if held is not None else "")

    def selected_customer(self) -> int | None:
        table = self.query_one("#conversations", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    # -- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "type_customer":
            return self.app.customer_channel is not None
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "conversations":
            event.stop()
            self.action_open()

    def action_open(self) -> None:
        from .conversation import ConversationScreen

        cid = self.selected_customer()
        if cid is not None:
            self.app.push_screen(ConversationScreen(cid))

    def action_pause(self) -> None:
        cid = self.selected_customer()
        if cid is not None and self.app.bridge:
            self.app.engine_call(self.app.bridge.pause(cid), "已暂停这位顾客的 AI")

    def action_resume(self) -> None:
        cid = self.selected_customer()
        if cid is not None and self.app.bridge:
            self.app.engine_call(self.app.bridge.resume(cid), "AI 已恢复")

    def action_handoffs(self) -> None:
        from .handoffs import HandoffScreen

        self.app.push_screen(HandoffScreen())

    def action_inbox(self) -> None:
        from .inbox import InboxScreen

        self.app.push_screen(InboxScreen())

    def action_readiness(self) -> None:
        from .readiness import ReadinessScreen

        self.app.push_screen(ReadinessScreen())

    def action_knowledge(self) -> None:
        from .knowledge import KnowledgeScreen

        self.app.push_screen(KnowledgeScreen())

    def action_qr(self) -> None:
        from .qr import QRScreen

        self.app.push_screen(QRScreen())

    def action_type_customer(self) -> None:
        if self.app.customer_channel is not None:
            self.query_one("#customer-input", CustomerInput).focus()

    def action_focus_list(self) -> None:
        self.query_one("#conversations", DataTable).focus()

    def on_input_submitted(self, event: CustomerInput.Submitted) -> None:
        if event.input.id == "customer-input":
            event.stop()
            self.app.type_as_customer(event.value)
            event.input.value = ""
