"""Knowledge tester: search the shop's knowledge as the bot would; add files; reindex."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, ProgressBar, Static

from ..format import clip
from ..widgets import FilePickerScreen, PromptScreen

KIND_LABELS = {"faq": "FAQ", "chunk": "文档", "product": "商品"}


class KnowledgeScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "返回"),
        Binding("ctrl+o", "add_files", "添加文件"),
        Binding("ctrl+l", "type_path", "输入路径", show=False),
        Binding("ctrl+e", "readiness", "准备检查"),
        Binding("ctrl+r", "reindex", "重建索引"),
        Binding("ctrl+f", "focus_query", "搜索"),
        Binding("ctrl+t", "teach", "教它认词"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("知识库测试：输入顾客可能问的话，看机器人会找到哪些资料", classes="section-title")
        yield Input(placeholder="例如：周末几点开门", id="kb-query")
        yield DataTable(id="hits", cursor_type="row", zebra_stripes=True)
        yield Static(id="kb-detail")
        yield ProgressBar(id="kb-progress", show_eta=False)
        yield Static(id="kb-info")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key, width in (("分数", "score", 6), ("类型", "kind", 4),
                                  ("来源", "source", 16), ("内容", "text", 60)):
            table.add_column(label, key=key, width=width)
        self._hits: list[Any] = []
        self.query_one(ProgressBar).display = False
        self.query_one("#kb-query", Input).focus()
        self._info()

    def _kb(self) -> Any:
        """The engine's retriever when it is the LanceDB knowledge base, else None."""
        bridge = self.app.bridge
        retriever = bridge.engine.pipeline.retriever if bridge else None
        return retriever if hasattr(retriever, "reindex") and hasattr(retriever, "add") else None

    def _info(self, extra: str = "") -> None:
        settings = self.app.ctx.settings.knowledge
        kb = self._kb()
        if kb is not None:
            try:
                files = len(kb.files())
            except Exception:
                files = 0
            text = f"LanceDB 知识库 · {files} 个文件 · 嵌入 {settings.embedder}"
        else:
            text = ("内存检索（FAQ 和演示资料）。要导入文件，请在设置里把 knowledge.backend "
                    "设为 lancedb 并安装 alpha01[kb]")
        if settings.folder:
            text += f" · 资料文件夹 {settings.folder}"
        self.query_one("#kb-info", Static).update(Text(text + (f"\n{extra}" if extra else ""),
                                                       style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if query and self.app.bridge:
            self.app.engine_call(self.app.bridge.search(query, 8), then=self._show)

    def _show(self, hits: list[Any]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self._hits = list(hits)
        for n, p in enumerate(hits):
            style = "green" if p.score >= 0.6 else "yellow" if p.score >= 0.25 else "dim"
            table.add_row(Text(f"{p.score:.2f}", style=style), KIND_LABELS.get(p.kind, p.kind),
                          clip(p.source, 16), clip(p.question or p.text, 60), key=str(n))
        if not hits:
            self.query_one("#kb-detail", Static).update("没有找到相关资料：机器人会转给店主。")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        n = int(event.row_key.value) if event.row_key.value else -1
        if 0 <= n < len(self._hits):
            p = self._hits[n]
            self.query_one("#kb-detail", Static).update(
                Text(f"{p.source} · {p.kind} · {p.score:.3f}\n{p.text[:400]}"))

    def action_teach(self) -> None:
        """"This question should find that line": the customer's word and the data's word for
        the same thing go into lexicon.txt, and the search runs again."""
        query = self.query_one("#kb-query", Input).value.strip()

        def go(value: str | None) -> None:
            if not value:
                return
            from ...lexicon import add_owner_entry

            try:
                line = add_owner_entry(self.app.ctx.paths.lexicon,
                                       [w for w in value.replace("，", ",").split(",")])
            except ValueError as exc:
                self.notify(str(exc), severity="warning")
                return
            self.notify(f"已记住：{line}")
            if query and self.app.bridge:
                self.app.engine_call(self.app.bridge.search(query, 8), then=self._show)

        self.app.push_screen(PromptScreen(
            "顾客的说法, 资料里的说法（逗号分开；例：元宵, 汤圆）", ""), go)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_focus_query(self) -> None:
        self.query_one("#kb-query", Input).focus()

    def action_add_files(self) -> None:
        """Pick a file or a folder in a directory tree (no path to type)."""
        if self._kb() is None:
            self.notify("当前是内存检索，不能导入文件（需要 LanceDB 知识库）", severity="warning")
            return
        folder = Path(self.app.ctx.settings.knowledge.folder or Path.home()).expanduser()
        start = folder if folder.is_dir() else Path.home()

        def go(chosen: Path | None) -> None:
            if chosen is not None:
                self._ingest([chosen])

        self.app.push_screen(FilePickerScreen("选择要导入的文件或文件夹（回车选文件，a 选文件夹）",
                                              start), go)

    def action_readiness(self) -> None:
        from .readiness import ReadinessScreen

        self.app.push_screen(ReadinessScreen())

    def action_type_path(self) -> None:
        if self._kb() is None:
            self.notify("当前是内存检索，不能导入文件（需要 LanceDB 知识库）", severity="warning")
            return
        folder = self.app.ctx.settings.knowledge.folder

        def go(value: str | None) -> None:
            if value:
                self._ingest([Path(v.strip()).expanduser() for v in value.split(";")
                              if v.strip()])

        self.app.push_screen(PromptScreen("要导入的文件或文件夹（多个用 ; 分隔）", folder), go)

    def action_reindex(self) -> None:
        if self._kb() is None:
            self.notify("当前是内存检索，没有索引可重建", severity="warning")
            return
        self._reindex()

    def _progress(self, name: str, done: int, total: int) -> None:
        self.app.call_from_thread(self._set_progress, name, done, total)

    def _set_progress(self, name: str, done: int, total: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=max(total, 1), progress=done)
        self._info(f"{done}/{total} {name}")

    @work(thread=True, exclusive=True, group="kb")
    def _ingest(self, paths: list[Path]) -> None:
        try:
            report = self._kb().add(paths, progress=self._progress)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"导入失败：{exc}", severity="error")
            return
        lines = "\n".join(report.lines()[-8:])
        self.app.call_from_thread(self._info, f"{report.summary()}\n{lines}")

    @work(thread=True, exclusive=True, group="kb")
    def _reindex(self) -> None:
        try:
            n = self._kb().reindex(progress=self._progress)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"重建失败：{exc}", severity="error")
            return
        self.app.call_from_thread(self._info, f"已重建索引：{n} 条")
