"""The Textual app: the engine runs in a thread worker, the screens read and ask.

    run_tui(app_context)                      # `alpha01` (first run opens the setup flow)
    run_tui(app_context, channel="wechat")    # `alpha01 run`
    run_tui(demo_context, channel="sim", demo=True, speed=2.0)   # `alpha01 demo`

`Alpha01App` receives a prepared engine (or a factory that builds one after setup), so tests
drive the real app on a FakeChannel and a FakeLLM. The engine's listeners post `EngineEvent`
messages (thread-safe); the current screen re-reads the database through its own read-only
connection. The UI never writes: changes go through `EngineBridge` → `engine.submit`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message

from ..app import AppContext
from .bridge import EngineBridge

CUSTOMER_CHANNEL = "console"


class EngineEvent(Message):
    """Something happened on the engine thread (message, decision, sent, takeover, …)."""

    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.kind = kind
        self.data = data


class Alpha01App(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "阿尔法01"
    BINDINGS = [Binding("ctrl+q", "quit", "退出", priority=True),
                Binding("j", "jobs", "定时任务")]

    def __init__(self, ctx: AppContext, engine: Any = None, *,
                 engine_factory: Callable[[Alpha01App], Any] | None = None,
                 customer_channel: Any = None, first_run: bool = False, demo: bool = False,
                 idle_sleep: float | None = None) -> None:
        super().__init__()
        self.crashed: Exception | None = None  # the bug that ended the app (it is in the log)
        self.ctx = ctx
        self.engine = engine
        self.engine_factory = engine_factory
        self.customer_channel = customer_channel
        self.first_run = first_run
        self.demo = demo
        self.idle_sleep = idle_sleep
        self.bridge: EngineBridge | None = None
        self.jobs: Any = None  # the JobScheduler beside the engine (None: automations off)
        self.services: Any = None  # model warm-up and sync heartbeat (alpha01.app.Services)
        self.engine_running = False
        self.engine_error: str | None = None
        self.model_label: tuple[str, str] = ("检查中…", "dim")
        self.events: list[tuple[str, dict[str, Any]]] = []  # what the engine reported
        self.first_paint_at: float | None = None
        self._stop = threading.Event()
        self._dirty = False
        self._alerts_version = 0  # of the server alerts last looked at
        self._alerts_seen: set[tuple] = set()
        self.sub_title = ctx.settings.shop.name + ("（演示）" if demo else "")

    # -- startup ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.first_run:
            from .screens.setup import SetupScreen

            self.push_screen(SetupScreen(), self._after_setup)
        else:
            self.launch()

    def _after_setup(self, saved: bool | None) -> None:
        self.sub_title = self.ctx.settings.shop.name
        self.launch()

    def _handle_exception(self, error: Exception) -> None:
        """An uncaught exception ends the app: first into the log (run_tui then says where)."""
        from ..logs import log_crash

        if self.crashed is None:
            self.crashed = error
            log_crash(error, where="TUI")
        super()._handle_exception(error)

    def launch(self) -> None:
        """Build (if needed) and start the engine, open the dashboard."""
        from .screens.dashboard import DashboardScreen

        if self.engine is None and self.engine_factory is not None:
            self.engine = self.engine_factory(self)
        if self.engine is not None:
            self.bridge = EngineBridge.open(self.engine, self.ctx.paths.db)
            self.engine.listeners.append(self._from_engine)
            self.engine_running = True
            self.run_worker(self._engine_loop, thread=True, name="engine", group="engine",
                            exit_on_error=False)
            self.run_worker(self._check_model, thread=True, name="model-check",
                            exit_on_error=False)
            from ..app import start_services

            self.services = start_services(self.ctx, self.engine)  # model warm-up, heartbeat
            if not self.demo:
                from ..jobs import start_for_host

                self.jobs = start_for_host(self.ctx.settings, self.ctx.paths, self.engine)
        self.push_screen(DashboardScreen())
        self.set_interval(0.2, self._flush_dirty)
        self.set_interval(1.0, self._tick)
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()

    def _engine_loop(self) -> None:
        try:
            self.engine.run(self._stop, idle_sleep=self.idle_sleep)
        except Exception as exc:  # start failed (channel could not open, …): show it
            self.engine_error = f"{type(exc).__name__}: {exc}"
            self.post_message(EngineEvent("alert", {"detail": f"引擎停止：{self.engine_error}"}))
        finally:
            self.engine_running = False
            try:
                self.engine.close()
            except Exception:
                pass

    def _check_model(self) -> None:
        llm = self.engine.pipeline.llm
        offline = self.ctx.settings.llm.offline
        try:
            ok = bool(llm.available())
        except Exception:
            ok = False
        name = getattr(llm, "name", "?")
        if not ok:
            label = ("离线·无模型(仅规则/FAQ)" if offline else "无可用模型", "yellow")
        elif name == "zhipu":
            label = ("云端 GLM", "magenta")
        elif name == "router":
            label = ("本地+云端" if not offline else "本地(离线)", "green")
        else:
            model = getattr(llm, "model", "") or name
            label = (f"本地 {model}" + ("·离线" if offline else ""), "green")
        self.model_label = label

    def on_unmount(self) -> None:
        self.stop_engine()

    def stop_engine(self) -> None:
        if self.services is not None:
            self.services.stop()
            self.services = None
        if self.jobs is not None:
            self.jobs.shutdown()
            self.jobs = None
        self._stop.set()

    def action_jobs(self) -> None:
        from .screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    # -- engine → UI --------------------------------------------------------------------------

    def _from_engine(self, kind: str, data: dict[str, Any]) -> None:
        """Called on the engine thread: hand it to the UI thread as a message."""
        self.post_message(EngineEvent(kind, dict(data)))

    def on_engine_event(self, event: EngineEvent) -> None:
        self.events.append((event.kind, event.data))
        del self.events[:-500]
        self._dirty = True
        if event.kind == "alert":
            self.notify(str(event.data.get("detail", "")), severity="error", timeout=8)
        elif event.kind == "takeover":
            self.notify(f"已暂停 AI：{event.data.get('reason', '')}", timeout=4)

    def _flush_dirty(self) -> None:  # (not _flush: textual's App has its own, with stderr=)
        if self._dirty:
            self._dirty = False
            self.refresh_screen()

    def _tick(self) -> None:
        self._new_server_alerts()
        self.refresh_screen(status_only=not self._dirty)

    @property
    def server_alerts(self) -> Any:
        """The owner's alerts fetched from the sync server (ServerAlerts), or None."""
        return getattr(self.services, "server_alerts", None)

    def _new_server_alerts(self) -> None:
        """A toast for each alert the server did not report before (at most three at once)."""
        held = self.server_alerts
        if held is None or held.version == self._alerts_version:
            return
        from ..sync.client import alert_key

        self._alerts_version = held.version
        current = held.current()
        new = [a for a in current if alert_key(a) not in self._alerts_seen]
        self._alerts_seen = {alert_key(a) for a in current}
        for alert in new[:3]:
            self.notify(str(alert.get("message") or alert.get("title") or ""),
                        title=f"服务器提醒：{alert.get('title') or ''}", severity="warning",
                        timeout=10)

    def refresh_screen(self, status_only: bool = False) -> None:
        if not self.screen_stack:  # shutting down: the screens are gone, a timer still fires
            return
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None and self.bridge is not None and getattr(self.screen, "ready",
                                                                       False):
            try:
                refresh(status_only=status_only)
            except NoMatches:  # the screen is being torn down
                pass

    # -- UI → engine --------------------------------------------------------------------------

    def engine_call(self, fut: concurrent.futures.Future, done: str | None = None,
                    then: Callable[[Any], None] | None = None) -> None:
        """Wait for an engine command without blocking the UI; report errors as toasts."""

        async def wait() -> None:
            try:
                result = await asyncio.wrap_future(fut)
            except Exception as exc:
                self.notify(f"没有完成：{exc}", severity="error")
                return
            if done:
                self.notify(done, timeout=3)
            if then is not None:
                then(result)
            self.refresh_screen()

        self.run_worker(wait(), group="engine-calls")

    def type_as_customer(self, line: str) -> None:
        """Demo / console: a customer message typed in the TUI ("名字：文字" picks the name)."""
        if self.customer_channel is None or not line.strip():
            return
        name, text = "访客", line.strip()
        for sep in ("：", ":"):
            head, found, rest = text.partition(sep)
            if found and 0 < len(head) <= 8 and rest.strip():
                name, text = head.strip(), rest.strip()
                break
        self.customer_channel.inject(name, text, key_hint=uuid.uuid4().hex, ts=time.time())


# -- building the runtime ---------------------------------------------------------------------


class _Discard:
    """A text sink: the sim channel must not print over the TUI."""

    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def build_runtime(ctx: AppContext, channel: str | None, *, demo: bool = False,
                  speed: float = 1.0, notes: list[str] | None = None) -> tuple[Any, Any]:
    """(engine, customer channel) for a TUI session. Problems become `notes`, not crashes."""
    from ..app import build_channel, build_engine
    from ..channels.fake import FakeChannel
    from ..errors import Alpha01Error

    notes = notes if notes is not None else []
    settings = ctx.settings
    name = channel or settings.channel.name
    customer = FakeChannel(CUSTOMER_CHANNEL) if demo or name == "console" else None
    channels: list[Any] = [customer] if customer is not None else []
    if name != "console":
        kwargs: dict[str, Any] = {}
        if name == "sim":
            kwargs = {"speed": speed, "stdout": _Discard()}
        try:
            channels.append(build_channel(name, settings, ctx.paths, **kwargs))
        except Alpha01Error as exc:
            notes.append(f"渠道 {name} 无法打开：{exc}")
    try:
        from ..app import build_retriever

        retriever = build_retriever(settings, ctx.paths, demo=demo)  # the demo shop ingested
    except Exception as exc:  # index unreadable, other embedder (reindex needed)
        from ..pipeline.retrieval import MemoryRetriever

        notes.append(f"知识库无法打开，暂用内存检索：{exc}")
        retriever = MemoryRetriever([], faq_threshold=settings.knowledge.faq_threshold)
    try:
        engine = build_engine(ctx, channels=channels, retriever=retriever, demo=demo)
    except Alpha01Error as exc:  # e.g. the configured model backend is missing
        from ..llm.fake import NullLLM

        notes.append(f"模型无法加载，只用规则和FAQ：{exc}")
        engine = build_engine(ctx, channels=channels, retriever=retriever, demo=demo,
                              llm=NullLLM())
    return engine, customer


def run_tui(app: AppContext, *, channel: str | None = None, demo: bool = False,
            speed: float = 1.0) -> None:
    """Open the terminal UI (blocks until the user quits)."""
    first_run = not demo and not app.paths.settings.exists()
    notes: list[str] = []

    def factory(tui: Alpha01App) -> Any:
        engine, customer = build_runtime(app, channel, demo=demo, speed=speed, notes=notes)
        tui.customer_channel = customer
        for note in notes:
            tui.notify(note, severity="warning", timeout=10)
        return engine

    tui = Alpha01App(app, engine_factory=factory, first_run=first_run, demo=demo)
    try:
        tui.run()
    finally:
        tui.stop_engine()
    if tui.crashed is not None:
        from ..logs import crash_note

        print(crash_note(tui.crashed), file=sys.stderr)
