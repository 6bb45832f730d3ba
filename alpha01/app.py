"""Composition root: builds the engine and its backends from settings.

Nothing else decides which concrete channel, model or retriever to use. The CLI and the TUI
receive an AppContext and ask it for what they need.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .paths import Paths
from .vault import Vault, store_secrets, take_secrets

if TYPE_CHECKING:
    from .channels.base import Channel
    from .storage.db import Database


@dataclass
class AppContext:
    """What every command gets as `ctx.obj`: where home is, the settings, the database."""

    paths: Paths
    json_output: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _db: Any = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """settings.toml with its secrets filled in from the vault; secrets still written in an
        old settings.toml move to the vault and the file is saved again without them."""
        if self._settings is None:
            settings = Settings.load(self.paths.settings)
            vault = self.vault()
            if vault is not None and take_secrets(settings, vault):
                settings.save(self.paths.settings)
            self._settings = settings
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    def save_settings(self) -> None:
        self.paths.ensure()
        store_secrets(self.settings, Vault(self.paths.home))
        self.settings.save(self.paths.settings)

    def vault(self) -> Vault | None:
        """The home's secrets; None while the home does not exist (nothing to read yet)."""
        return Vault(self.paths.home) if self.paths.home.is_dir() else None

    def db(self) -> Database:
        """The home's encrypted, migrated database (opened once per process)."""
        if self._db is None:
            from .storage.db import Database

            self.paths.ensure()
            self._db = Database.open_home(self.paths)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def build_retriever(settings: Settings, paths: Paths, *, demo: bool = False) -> Any:
    """The knowledge behind the answers: the LanceDB index, or passages held in memory.

    For the demo the demo shop's documents are ingested into the (fresh) demo home first.
    Without lancedb installed the memory retriever serves, so the app still starts.
    """
    import importlib.util

    if settings.knowledge.backend == "lancedb" and importlib.util.find_spec("lancedb"):
        from .knowledge import open_kb

        kb = open_kb(paths, settings.knowledge)
        if demo:
            from .demo import demo_dir

            kb.add([demo_dir() / name for name in ("faq.csv", "products.csv", "intro.md")])
        return kb
    from .pipeline.retrieval import MemoryRetriever

    passages = []
    if demo:
        from .demo import demo_passages

        passages = demo_passages()
    return MemoryRetriever(passages, faq_threshold=settings.knowledge.faq_threshold)


def build_llm(settings: Settings, paths: Paths, *, llm: Any = None) -> Any:
    from . import registry

    if llm is not None:
        return llm
    return registry.create("llm", settings.llm.backend, settings=settings.llm, paths=paths)


def build_channel(name: str, settings: Settings, paths: Paths | None = None,
                  **kwargs: Any) -> Channel:
    from . import registry

    if name == "sim" and "script" not in kwargs:
        if settings.channel.sim_script:
            kwargs["script"] = settings.channel.sim_script
        else:  # the demo shop's conversation
            from .demo import demo_dir

            kwargs["script"] = demo_dir() / "conversation.jsonl"
    if name == "wechat":
        kwargs.setdefault("settings", settings)
        if paths is not None:
            kwargs.setdefault("state_path", paths.home / "wechat_state.json")
        if sys.platform == "win32" and settings.wechat.ocr_fallback:
            from .channels.wechat.ocr import capture_wechat

            left = settings.wechat.ocr_panel_left
            kwargs.setdefault("ocr_capture", lambda: capture_wechat(left))
    if name in ("web", "wecom"):
        kwargs.setdefault("settings", settings)
        if paths is not None and name == "web":
            kwargs.setdefault("paths", paths)  # where its cookie secret is kept
        if "records" not in kwargs:
            # the web chat reads a chat's earlier turns (read-only); 微信客服 keeps its cursor
            from .storage.records import ChannelRecords

            kwargs["records"] = ChannelRecords(kwargs.get("name", name), paths=paths,
                                               reader=name == "web")
    return registry.create("channels", name, **kwargs)


def build_engine(ctx: AppContext, *, channels: list[Channel] = (), llm: Any = None,
                 retriever: Any = None, clock: Any = None, demo: bool = False) -> Any:
    """The one place that wires an Engine: settings → backends → pipeline → engine."""
    from .engine import Engine
    from .friends import FriendPolicy, FriendRules
    from .pipeline.core import Pipeline
    from .pipeline.prompt import make_canary

    settings = ctx.settings
    resolve_binding = None
    sync = settings.sync
    if sync.server and sync.device_id:
        def resolve_binding(code: str) -> Any:  # a new friend named a binding code (rare)
            from .sync.client import SyncClient

            with SyncClient(sync.server, sync.device_id, sync.device_secret) as client:
                return client.resolve_binding(code)
    # counters an earlier version kept in the WeChat channel's state file are read once
    friends = FriendPolicy(FriendRules.from_settings(settings.wechat),
                           resolve_binding=resolve_binding,
                           legacy_state=ctx.paths.home / "wechat_state.json")
    pipeline = Pipeline(
        settings=settings,
        retriever=retriever if retriever is not None else build_retriever(settings, ctx.paths,
                                                                          demo=demo),
        llm=build_llm(settings, ctx.paths, llm=llm),
        canary=make_canary(settings.shop.name),
    )
    return Engine(db=ctx.db(), pipeline=pipeline, settings=settings, channels=list(channels),
                  clock=clock, friends=friends)


def demo_settings(base: Settings) -> Settings:
    """The demo shop's settings on top of whatever the home has (offline, no WeChat)."""
    return base.with_overrides(
        shop={"name": "果然鲜水果铺"},
        engine={"aggregate_window_s": 1.5},
        pacing={"enabled": False},
        llm={"offline": True},
    )


class Services:
    """What runs beside the engine in a long-running host (`alpha01 run`, the TUI): the model
    warm-up and the sync heartbeat. `stop()` ends them."""

    def __init__(self) -> None:
        self._stoppers: list[Any] = []
        # The owner's alerts from the sync server (alpha01.sync.ServerAlerts), refreshed by the
        # heartbeat; None when this PC is not enrolled.
        self.server_alerts: Any = None

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            try:
                stop()
            except Exception:  # shutting down: nothing useful to do with it
                pass
        self._stoppers.clear()


def start_services(ctx: AppContext, engine: Any) -> Services:
    import threading

    services = Services()
    llm = engine.pipeline.llm
    local = getattr(llm, "local", llm)
    if hasattr(local, "load") and local.available():
        # Load the model now, off the engine thread, so the first customer does not wait.
        threading.Thread(target=_quietly, args=(local.load,), name="model-warmup",
                         daemon=True).start()
    s = ctx.settings.sync
    a = ctx.settings.alerts
    from .alerts import AlertRelay

    client = None
    if s.server and s.device_id and a.to_server:
        from .sync.client import SyncClient

        client = SyncClient(s.server, s.device_id, s.device_secret)
    # alerts beyond the TUI: desktop notification, the owner's hook, the server's alert list
    relay = AlertRelay(client=client, hook=a.hook, desktop=a.desktop,
                       hook_timeout_s=a.hook_timeout_s).start()
    engine.listeners.append(relay)
    services._stoppers.append(relay.stop)
    if s.server and s.device_id:
        from .sync.client import HeartbeatLoop, ServerAlerts, SyncClient

        services.server_alerts = ServerAlerts()
        loop = HeartbeatLoop(SyncClient(s.server, s.device_id, s.device_secret),
                             lambda: device_status(ctx, engine), interval_s=s.heartbeat_s,
                             alerts=services.server_alerts, alerts_every_s=s.alerts_s)
        loop.start()
        services._stoppers.append(loop.stop)
    return services


def _quietly(fn: Any) -> None:
    import logging

    try:
        fn()
    except Exception as exc:  # the first reply will report it properly
        logging.getLogger("alpha01.app").warning("model warm-up failed: %s", exc)


def device_status(ctx: AppContext, engine: Any) -> Any:
    """The heartbeat's report: cheap, read-only, from the heartbeat's own thread."""
    from .jobs.tasks import device_status as status_of
    from .storage.db import Database
    from .storage.queries import Store

    def activity() -> tuple[int, int]:
        reader = Database.open_home(ctx.paths, reader=True)
        try:
            return Store(reader).activity_today()
        finally:
            reader.close()

    return status_of(list(engine.channels.values()), activity)
