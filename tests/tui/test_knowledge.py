"""The knowledge screen on a real LanceDB knowledge base (hash embedder): documents are added
with a directory tree (no path typed), and the readiness screen runs the shop's questions
through the real answering path without writing anything."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, DirectoryTree

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.demo import demo_dir
from alpha01.knowledge import open_kb
from alpha01.llm.fake import NullLLM
from alpha01.paths import Paths
from alpha01.readiness import CUSTOMER_TABLES
from alpha01.storage.db import connect
from alpha01.vault import Vault

from .conftest import run, table_text, wait_for
from .test_screenshots import _publish

SIZE = (140, 40)


def _app(tmp_path, docs: Path):
    from alpha01.tui.app import Alpha01App

    ctx = AppContext(paths=Paths(tmp_path / "shop").ensure())
    ctx.settings = ctx.settings.with_overrides(
        shop={"name": "果然鲜水果铺"}, knowledge={"embedder": "hash", "folder": str(docs)},
        engine={"aggregate_window_s": 0.0, "poll_interval_s": 0.02}, pacing={"enabled": False})
    ctx.save_settings()
    kb = open_kb(ctx.paths, ctx.settings.knowledge)
    engine = build_engine(ctx, channels=[FakeChannel("fake")], llm=NullLLM(), retriever=kb)
    return Alpha01App(ctx, engine, idle_sleep=0.02), kb


def test_documents_are_added_by_picking_them_in_a_directory_tree(tmp_path):
    docs = tmp_path / "店铺资料"
    docs.mkdir()
    (docs / "faq.csv").write_text("问题,答案\n几点开门,早上九点开门。\n", encoding="utf-8")
    app, kb = _app(tmp_path, docs)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("k")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "KnowledgeScreen")
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilePickerScreen")
            tree = app.screen.query_one(DirectoryTree)
            await wait_for(pilot, lambda: any(n.data and Path(n.data.path).name == "faq.csv"
                                              for n in tree.root.children), what="the tree")
            tree.move_cursor(next(n for n in tree.root.children
                                  if Path(n.data.path).name == "faq.csv"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "KnowledgeScreen")
            await wait_for(pilot, lambda: [f["source"] for f in kb.files()] == ["faq.csv"],
                           timeout=20, what="the import")

    run(go())
    kb.close()


def test_the_readiness_screen_shows_score_handoffs_and_thin_documents(tmp_path):
    docs = demo_dir()
    app, kb = _app(tmp_path, docs)
    kb.add([docs / name for name in ("faq.csv", "products.csv", "intro.md")])

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c")
            await wait_for(pilot, lambda: getattr(app.screen, "report", None) is not None,
                           timeout=60, what="the readiness report")
            await pilot.pause(0.3)
            report = app.screen.report
            table = app.screen.query_one("#ready-results", DataTable)
            text = table_text(table)
            assert "答上了" in text and "转店主" in text  # no model: the sections go to the owner
            svg = Path(app.save_screenshot("readiness.svg", str(tmp_path)))
            page = svg.read_text(encoding="utf-8")
            for word in (f"准备分&#160;{report.score}/100", "intro.md", "资料太薄"):
                assert word in page, word
            _publish(svg, "readiness")
            assert report.written == dict.fromkeys(CUSTOMER_TABLES, 0)

    run(go())
    kb.close()
    shop = tmp_path / "shop"
    conn = connect(shop / "alpha01.db", key=Vault(shop).database_key())
    assert [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CUSTOMER_TABLES] \
        == [0] * len(CUSTOMER_TABLES)
    conn.close()
