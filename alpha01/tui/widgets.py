"""Widgets shared by the screens: counters, the status bar, the customer input of the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from .format import TIER_LABELS, clip, today_start


class Counters(Static):
    """Today's figures: messages, answers by tier, handoffs, median latency."""

    def show(self, counts: dict[str, Any]) -> None:
        t = Text()
        t.append("今日消息 ", style="dim")
        t.append(str(counts.get("messages", 0)), style="bold")
        by_tier = counts.get("by_tier", {})
        for tier in ("rule", "faq", "local", "cloud", "fallback", "handoff", "manual"):
            if by_tier.get(tier):
                t.append(f" · {TIER_LABELS[tier]} ", style="dim")
                t.append(str(by_tier[tier]), style="bold")
        t.append(" · 待处理转人工 ", style="dim")
        t.append(str(counts.get("open_handoffs", 0)),
                 style="bold yellow" if counts.get("open_handoffs") else "bold")
        med = counts.get("median_latency_ms")
        t.append(" · 中位延迟 ", style="dim")
        t.append(f"{med:.0f} ms" if med is not None else "-", style="bold")
        self.update(t)


class StatusBar(Static):
    """Channel health, model, risk meter, sync."""

    def show(self, *, channels: list[tuple[str, bool, str]], model: tuple[str, str],
             risk: float, sync: tuple[str, str], engine_ok: bool) -> None:
        t = Text()
        t.append(" 引擎 ", style="dim")
        t.append("运行" if engine_ok else "停止", style="green" if engine_ok else "bold red")
        t.append("  渠道 ", style="dim")
        if not channels:
            t.append("无", style="yellow")
        for name, ok, detail in channels:
            t.append(f"{name}{'●' if ok else '✕'} ", style="green" if ok else "bold red")
            if not ok and detail:
                t.append(f"({detail[:24]}) ", style="red")
        t.append(" 模型 ", style="dim")
        t.append(model[0], style=model[1])
        t.append("  风险 ", style="dim")
        cells = round(risk * 10)
        style = "green" if risk < 0.5 else "yellow" if risk < 0.8 else "bold red"
        t.append("█" * cells + "░" * (10 - cells), style=style)
        t.append(f" {risk * 100:.0f}%", style=style)
        t.append("  同步 ", style="dim")
        t.append(sync[0], style=sync[1])
        self.update(t)


class ServerAlertsBar(Static):
    """The owner's alerts from the sync server (设备离线, 微信掉线, 接待已满 …), one line;
    hidden while there are none."""

    def show(self, alerts: list[dict[str, Any]], error: str = "") -> None:
        self.display = bool(alerts)
        if not alerts:
            return
        t = Text()
        t.append(f" 服务器提醒（{len(alerts)}）", style="bold red")
        for alert in alerts[:6]:
            t.append("  ")
            t.append(str(alert.get("title") or alert.get("kind") or "提醒"), style="bold yellow")
            where = " ".join(str(x) for x in (alert.get("store_name"), alert.get("device_name")
                                             or alert.get("device_id")) if x)
            if alert.get("kind") == "device_alert":
                where = str(alert.get("detail") or where)
            if where:
                t.append(" " + clip(where, 24), style="yellow")
        if len(alerts) > 6:
            t.append(f"  …另 {len(alerts) - 6} 条", style="dim")
        if error:
            t.append("  （上次更新失败）", style="dim")
        self.update(t)


class CustomerInput(Input):
    """Type as a customer (demo and console channel): the text goes into the fake channel."""


def counts_today(reader: Any, now: float) -> dict[str, Any]:
    return reader.counts(since=today_start(now))



class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; dismisses with the text, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "取消")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self.title_text)
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilePickerScreen(ModalScreen["Path | None"]):
    """Choose a file or a folder with the keyboard or the mouse (Textual's DirectoryTree):
    Enter on a file picks it, `a` picks the highlighted file or folder, Backspace goes up."""

    BINDINGS = [Binding("a", "pick", "导入所选（文件或文件夹）"),
                Binding("backspace", "up", "上一级"),
                Binding("escape", "cancel", "取消")]

    def __init__(self, title: str, start: Path) -> None:
        super().__init__()
        self.title_text = title
        self.start = start

    def compose(self) -> ComposeResult:
        from textual.widgets import DirectoryTree

        with Vertical(id="picker-box"):
            yield Label(self.title_text)
            yield Static(str(self.start), id="picker-root")
            yield DirectoryTree(self.start, id="picker-tree")
            yield Footer()

    def on_mount(self) -> None:
        from textual.widgets import DirectoryTree

        self.query_one(DirectoryTree).focus()

    def on_directory_tree_file_selected(self, event: Any) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    def _highlighted(self) -> Path | None:
        from textual.widgets import DirectoryTree

        node = self.query_one(DirectoryTree).cursor_node
        return Path(node.data.path) if node is not None and node.data is not None else None

    def action_pick(self) -> None:
        chosen = self._highlighted()
        if chosen is not None:
            self.dismiss(chosen)

    def action_up(self) -> None:
        from textual.widgets import DirectoryTree

        tree = self.query_one(DirectoryTree)
        parent = Path(tree.path).resolve().parent
        tree.path = parent
        self.query_one("#picker-root", Static).update(str(parent))

    def action_cancel(self) -> None:
        self.dismiss(None)
