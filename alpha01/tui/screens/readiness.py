"""Readiness: the questions the shop's own documents raise, answered by the bot without
sending or storing anything; the score, what is handed off, the thin documents, what to fix.
(The same check as `alpha01 kb check`.)"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, ProgressBar, Static

from ..format import clip

VERDICTS = {"answered": ("答上了", "green"), "handoff": ("转店主", "yellow"),
            "other": ("答偏了", "red"), "silent": ("没回复", "dim")}


class ReadinessScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "返回"), Binding("ctrl+r", "rerun", "重新检查")]

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        from ...readiness import DEFAULT_LIMIT

        self.limit = DEFAULT_LIMIT if limit is None else limit
        self.report: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("准备检查：用店铺资料拟出顾客会问的问题，看机器人怎么答（不发送、不记录）",
                    classes="section-title")
        yield Static("正在准备…", id="ready-score")
        yield ProgressBar(id="ready-progress", show_eta=False)
        yield DataTable(id="ready-results", cursor_type="row", zebra_stripes=True)
        yield Static(id="ready-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key, width in (("结果", "verdict", 6), ("顾客会问", "question", 26),
                                  ("机器人的回答", "reply", 52), ("资料", "source", 18)):
            table.add_column(label, key=key, width=width)
        self._check()

    def _progress(self, question: str, done: int, total: int) -> None:
        self.app.call_from_thread(self._set_progress, question, done, total)

    def _set_progress(self, question: str, done: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#ready-score", Static).update(
            Text(f"正在提问 {done}/{total}：{question}", style="dim"))

    @work(thread=True, exclusive=True, group="readiness")
    def _check(self) -> None:
        from ...app import AppContext
        from ...readiness import check_shop

        ctx = self.app.ctx
        engine = self.app.engine
        retriever = engine.pipeline.retriever if engine is not None else None
        if retriever is None or not hasattr(retriever, "store"):
            self.app.call_from_thread(self.query_one("#ready-score", Static).update,
                                      Text("没有 LanceDB 知识库：先在知识库里导入店铺资料", style="yellow"))
            return
        # its own database connection on this thread; the running model and index are shared
        mine = AppContext(paths=ctx.paths)
        mine.settings = ctx.settings
        try:
            report = check_shop(mine, limit=self.limit, progress=self._progress,
                                llm=engine.pipeline.llm, retriever=retriever)
        except Exception as exc:
            self.app.call_from_thread(self.query_one("#ready-score", Static).update,
                                      Text(f"检查失败：{exc}", style="bold red"))
            return
        finally:
            mine.close()
        self.app.call_from_thread(self._show, report)

    def _show(self, report: Any) -> None:
        self.report = report
        self.query_one(ProgressBar).display = False
        style = ("bold green" if report.score >= 85 else "bold yellow" if report.score >= 60
                 else "bold red")
        head = Text()
        head.append(f"准备分 {report.score}/100", style=style)
        head.append(f"   {len(report.outcomes)} 个问题：答上 {report.count('answered')} · "
                    f"转店主 {report.count('handoff')} · 答偏 {report.count('other')}",
                    style="bold")
        head.append("   没有发送、没有记录" if not any(report.written.values())
                    else f"   顾客表有变化 {report.written}", style="dim")
        self.query_one("#ready-score", Static).update(head)
        table = self.query_one(DataTable)
        table.clear()
        order = {"other": 0, "handoff": 1, "silent": 2, "answered": 3}
        for n, o in sorted(enumerate(report.outcomes), key=lambda x: order[x[1].verdict]):
            label, colour = VERDICTS[o.verdict]
            table.add_row(Text(label, style=colour), clip(o.probe.question, 26),
                          clip(" ".join((o.reply or "").split()), 52),
                          clip(o.probe.source, 18), key=str(n))
        detail = Text()
        thin = [d for d in report.documents() if d["thin"]]
        detail.append("资料太薄：", style="bold")
        detail.append("、".join(f"{d['source']}（{d['answered']}/{d['questions']}）"
                                for d in thin) or "没有", style="yellow" if thin else "green")
        for line in report.fixes()[:8]:
            detail.append(f"\n· {line}")
        self.query_one("#ready-detail", Static).update(detail)

    def action_rerun(self) -> None:
        self.query_one(ProgressBar).display = True
        self._check()

    def action_back(self) -> None:
        self.app.pop_screen()
