"""First run: shop name, knowledge folder (ingest with progress), model check, Zhipu key,
channel, business hours. Writes settings.toml in the home directory."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Select, Static

CHANNEL_LABELS = {"wechat": "微信（本机 PC 微信）", "console": "终端（在本界面扮演顾客）",
                  "sim": "模拟对话（演示脚本）", "web": "网页聊天"}


def channel_choices() -> list[tuple[str, str]]:
    from ... import registry

    names = [n for n in registry.names("channels") if n != "fake"]
    return [(CHANNEL_LABELS.get(n, n), n) for n in names]


def model_status(app_ctx) -> tuple[str, bool]:
    """What the local-model check found, and whether a model file is there."""
    try:
        from ...llm.models import discover

        found = discover(app_ctx.settings.llm, app_ctx.paths)
        return f"找到本地模型：{found.path.name}（{found.how}）", True
    except Exception as exc:
        return f"没有本地模型：{exc}", False


class SetupScreen(Screen[bool]):
    BINDINGS = [
        Binding("ctrl+s", "save", "保存并开始"),
        # not Ctrl+I: a terminal sends Tab for it, which moves the focus instead
        Binding("ctrl+o", "ingest", "导入资料", show=True),
        Binding("escape", "skip", "跳过（用默认设置）"),
    ]

    def compose(self) -> ComposeResult:
        s = self.app.ctx.settings
        yield Header()
        with VerticalScroll(id="setup-form"):
            yield Static(Text("欢迎使用阿尔法01！先花一分钟填好这些，之后随时可以在 "
                              "settings.toml 里修改。", style="bold"))
            yield Label("1. 店铺名称")
            yield Input(value=s.shop.name, id="shop-name")
            yield Label("2. 店铺资料文件夹（FAQ 表、商品表、介绍文档；Ctrl+O 立即导入）")
            yield Input(value=s.knowledge.folder, placeholder="例如 D:\\店铺资料", id="kb-folder")
            yield ProgressBar(id="ingest-progress", show_eta=False)
            yield Static(id="ingest-status")
            yield Label("3. 本地模型")
            yield Static("检查中…", id="model-status")
            yield Label("4. 智谱 API Key（可选：本地答不了时用云端；留空则完全离线）")
            yield Input(value=s.llm.zhipu_api_key, password=True, id="zhipu-key")
            yield Label("5. 接待渠道")
            choices = channel_choices()
            current = s.channel.name if s.channel.name in {v for _, v in choices} else None
            yield Select(choices, value=current or Select.NULL, id="channel",
                         prompt="选择渠道")
            yield Label("6. 营业时间（开门 / 关门，相同表示全天）")
            with Horizontal(id="hours"):
                yield Input(value=s.hours.open, id="hours-open")
                yield Input(value=s.hours.close, id="hours-close")
            yield Static(id="setup-error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#shop-name", Input).focus()
        self._check_model()

    @work(thread=True, group="setup")
    def _check_model(self) -> None:
        text, ok = model_status(self.app.ctx)
        self.app.call_from_thread(self.query_one("#model-status", Static).update,
                                  Text(text, style="green" if ok else "yellow"))

    def action_ingest(self) -> None:
        folder = self.query_one("#kb-folder", Input).value.strip()
        if not folder:
            self.notify("先填资料文件夹", severity="warning")
            return
        if not Path(folder).expanduser().is_dir():
            self.notify(f"找不到文件夹 {folder}", severity="error")
            return
        self._ingest(Path(folder).expanduser())

    def _progress(self, name: str, done: int, total: int) -> None:
        self.app.call_from_thread(self._set_progress, name, done, total)

    def _set_progress(self, name: str, done: int, total: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=max(total, 1), progress=done)
        self.query_one("#ingest-status", Static).update(f"{done}/{total} {name}")

    @work(thread=True, exclusive=True, group="setup-ingest")
    def _ingest(self, folder: Path) -> None:
        ctx = self.app.ctx
        try:
            from ...knowledge import open_kb

            settings = ctx.settings.with_overrides(knowledge={"backend": "lancedb"})
            with open_kb(ctx.paths, settings.knowledge) as kb:
                report = kb.add([folder], progress=self._progress)
        except Exception as exc:
            self.app.call_from_thread(self.query_one("#ingest-status", Static).update,
                                      Text(f"导入失败：{exc}", style="red"))
            return
        self.ingested = True
        self.app.call_from_thread(self.query_one("#ingest-status", Static).update,
                                  Text(report.summary(), style="green"))

    def action_save(self) -> None:
        from ...errors import ConfigError

        ctx = self.app.ctx
        value = self.query_one("#channel", Select).value
        key = self.query_one("#zhipu-key", Input).value.strip()
        folder = self.query_one("#kb-folder", Input).value.strip()
        llm: dict = {"zhipu_api_key": key}
        if key:
            llm["offline"] = False
        knowledge: dict = {"folder": folder}
        if getattr(self, "ingested", False):
            knowledge["backend"] = "lancedb"
        try:
            ctx.settings = ctx.settings.with_overrides(
                shop={"name": self.query_one("#shop-name", Input).value.strip() or "我的小店"},
                hours={"open": self.query_one("#hours-open", Input).value.strip(),
                       "close": self.query_one("#hours-close", Input).value.strip()},
                channel={"name": value if isinstance(value, str) else ctx.settings.channel.name},
                llm=llm, knowledge=knowledge)
            ctx.save_settings()
        except ConfigError as exc:
            self.query_one("#setup-error", Static).update(Text(str(exc), style="bold red"))
            return
        self.notify(f"已保存 {ctx.paths.settings}")
        self.dismiss(True)

    def action_skip(self) -> None:
        self.app.ctx.save_settings()
        self.dismiss(False)
