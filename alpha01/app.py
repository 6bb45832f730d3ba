"""Composition root: builds the engine and its backends from settings.

Nothing else decides which concrete channel, model or retriever to use. The CLI and the TUI
receive an AppContext and ask it for what they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .paths import Paths

if TYPE_CHECKING:
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
        if self._settings is None:
            self._settings = Settings.load(self.paths.settings)
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    def save_settings(self) -> None:
        self.paths.ensure()
        self.settings.save(self.paths.settings)

    def db(self) -> Database:
        """The migrated database in the home directory (opened once per process)."""
        if self._db is None:
            from .storage.db import Database

            self.paths.ensure()
            self._db = Database.open(self.paths.db)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def build_retriever(settings: Settings, paths: Paths, *, demo: bool = False) -> Any:
    """The knowledge behind the answers: the LanceDB index, or passages held in memory."""
    if settings.knowledge.backend == "lancedb":
        from .knowledge import open_kb

        return open_kb(paths, settings.knowledge)
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


def build_channel(name: str, settings: Settings, **kwargs: Any) -> Any:
    from . import registry

    if name == "sim" and settings.channel.sim_script and "script" not in kwargs:
        kwargs["script"] = settings.channel.sim_script
    return registry.create("channels", name, **kwargs)


def build_engine(ctx: AppContext, *, channels: list[Any] = (), llm: Any = None,
                 retriever: Any = None, clock: Any = None, demo: bool = False) -> Any:
    """The one place that wires an Engine: settings → backends → pipeline → engine."""
    from .engine import Engine
    from .pipeline.core import Pipeline
    from .pipeline.prompt import make_canary

    settings = ctx.settings
    pipeline = Pipeline(
        settings=settings,
        retriever=retriever if retriever is not None else build_retriever(settings, ctx.paths,
                                                                          demo=demo),
        llm=build_llm(settings, ctx.paths, llm=llm),
        canary=make_canary(settings.shop.name),
    )
    return Engine(db=ctx.db(), pipeline=pipeline, settings=settings, channels=list(channels),
                  clock=clock)


def demo_settings(base: Settings) -> Settings:
    """The demo shop's settings on top of whatever the home has (offline, no WeChat)."""
    return base.with_overrides(
        shop={"name": "果然鲜水果铺"},
        engine={"aggregate_window_s": 1.5},
        pacing={"enabled": False},
        llm={"offline": True},
    )
