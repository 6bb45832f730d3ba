"""`alpha01 kb …` through click, on a temporary home with the hash embedder."""

from __future__ import annotations

import json

from click.testing import CliRunner

from alpha01.app import AppContext
from alpha01.clitext import t
from alpha01.config import Settings
from alpha01.knowledge.commands import kb


def _run(paths, *args):
    app = AppContext(paths=paths)
    app.settings = Settings().with_overrides(knowledge={"embedder": "hash"})
    return CliRunner().invoke(kb, list(args), obj=app, catch_exceptions=False)


def _summary(added: int, skipped: int, failed: int) -> str:
    """`kb add`'s last line up to its timing."""
    return t("kb.summary", added=added, skipped=skipped, failed=failed, s="#").split("#")[0]


def test_add_list_search_remove(paths, shop):
    result = _run(paths, "add", str(shop))
    assert result.exit_code == 0, result.output
    assert _summary(3, 0, 0) in result.output
    listed = json.loads(_run(paths, "list", "--json").output)
    assert [f["source"] for f in listed["files"]] == ["faq.csv", "intro.md", "products.csv"]
    found = json.loads(_run(paths, "search", "茶叶可以试喝吗", "-k", "3", "--json").output)
    faq = next(h for h in found["hits"] if h["kind"] == "faq")
    assert faq["source"] == "faq.csv" and faq["question"] == "茶叶可以试喝吗"
    assert faq["answer"].startswith("店里所有茶叶") and 0 <= faq["score"] <= 1
    assert set(found["hits"][0]) >= {"text", "source", "score", "kind"}
    assert _run(paths, "search", "西湖龙井", "--mode", "fts").exit_code == 0
    assert t("kb.removed", name="faq.csv") in _run(paths, "remove", "faq.csv").output
    assert _run(paths, "remove", "faq.csv").exit_code == 1


def test_add_reports_each_failure_and_exits_nonzero(paths, shop):
    (shop / "empty.md").write_bytes(b"")
    result = _run(paths, "add", str(shop))
    assert result.exit_code == 1
    assert t("kb.file.error", path=shop / "empty.md", detail="file is empty") in result.output
    assert _summary(3, 0, 1) in result.output


def test_reindex_shows_a_progress_bar(paths, shop):
    _run(paths, "add", str(shop))
    result = _run(paths, "reindex")
    assert result.exit_code == 0
    assert t("kb.reindexing") in result.output  # the bar's label (stderr; no tty here)
    rows = sum(f["chunks"] for f in json.loads(_run(paths, "list", "--json").output)["files"])
    assert t("kb.reindexed", n=rows, embedder="hash-512-12") in result.output


def test_the_native_lancedb_logger_prints_no_warnings(tmp_path, shop):
    import os
    import subprocess
    import sys

    env = {**os.environ, "ALPHA01_HOME": str(tmp_path / "fresh")}
    env.pop("LANCEDB_LOG", None)
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "settings.toml").write_text('[knowledge]\nembedder = "hash"\n',
                                                      encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "alpha01.cli", "kb", "add", str(shop)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "WARN" not in r.stderr and "lance" not in r.stderr
