"""The TUI starts the scheduler beside the engine and shows the jobs view."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever

pytest.importorskip("textual")


def test_jobs_screen_lists_jobs_and_runs_one_now(tmp_path):
    from alpha01.tui.app import Alpha01App
    from alpha01.tui.screens.jobs import JobsScreen

    ctx = AppContext(paths=Paths(Path(tmp_path / "shop")).ensure())
    ctx.settings = ctx.settings.with_overrides(engine={"poll_interval_s": 0.02},
                                               pacing={"enabled": False})
    ctx.save_settings()
    engine = build_engine(ctx, channels=[FakeChannel("fake")], llm=FakeLLM(),
                          retriever=MemoryRetriever([]))
    app = Alpha01App(ctx, engine, idle_sleep=0.02)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.2)
            assert app.jobs is not None and app.jobs.running
            await pilot.press("j")
            await pilot.pause(0.2)
            assert isinstance(app.screen, JobsScreen)
            table = app.screen.query_one("DataTable")
            assert table.row_count >= 5
            await pilot.press("r")  # the first row: the daily backup
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not list(ctx.paths.backups.glob("*.db")):
                await pilot.pause(0.1)
            assert list(ctx.paths.backups.glob("alpha01-*.db"))
            await pilot.press("escape")
        assert app.jobs is None  # shut down with the app

    asyncio.run(scenario())
