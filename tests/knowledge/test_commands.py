"""`alpha01 kb …` through click, on a temporary home with the hash embedder."""

from __future__ import annotations

import json

from click.testing import CliRunner

from alpha01.app import AppContext
from alpha01.config import Settings
from alpha01.knowledge.commands import kb


def _run(paths, *args):
    app = AppContext(paths=paths)
    app.settings = Settings().with_overrides(knowledge={"embedder": "hash"})
    return CliRunner().invoke(kb, list(args), obj=app, catch_exceptions=False)


def test_add_list_search_remove(paths, shop):
    result = _run(paths, "add", str(shop))
    assert result.exit_code == 0, result.output
    assert "3 added, 0 unchanged or skipped, 0 failed" in result.output
    listed = json.loads(_run(paths, "list", "--json").output)
    assert [f["source"] for f in listed["files"]] == ["faq.csv", "intro.md", "products.csv"]
    found = json.loads(_run(paths, "search", "茶叶可以试喝吗", "-k", "3", "--json").output)
    faq = next(h for h in found["hits"] if h["kind"] == "faq")
    assert faq["source"] == "faq.csv" and faq["question"] == "茶叶可以试喝吗"
    assert faq["answer"].startswith("店里所有茶叶") and 0 <= faq["score"] <= 1
    assert set(found["hits"][0]) >= {"text", "source", "score", "kind"}
    assert _run(paths, "search", "西湖龙井", "--mode", "fts").exit_code == 0
    assert "removed  faq.csv" in _run(paths, "remove", "faq.csv").output
    assert _run(paths, "remove", "faq.csv").exit_code == 1


def test_add_reports_each_failure_and_exits_nonzero(paths, shop):
    (shop / "empty.md").write_bytes(b"")
    result = _run(paths, "add", str(shop))
    assert result.exit_code == 1
    assert "empty.md: file is empty" in result.output
    assert "3 added" in result.output


def test_reindex(paths, shop):
    _run(paths, "add", str(shop))
    result = _run(paths, "reindex")
    assert result.exit_code == 0 and "reindexed" in result.output
