"""Big plain-text files are streamed: read, chunked, embedded and written a segment at a time
(bounded batches), and switched in with one step, so a failure or a kill -9 midway leaves the
file's old version searchable and no part of the new one. Small caps stand in for big files
(the 50 MB file is in `scripts/bench limits`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha01.config import KnowledgeSettings
from alpha01.knowledge import HashEmbedder, open_kb
from alpha01.paths import Paths

SETTINGS = KnowledgeSettings(embedder="hash", stream_text_mb=0.01)


def _open(home: Path):
    kb = open_kb(Paths(home), SETTINGS, embedder=HashEmbedder())
    kb.stream_segment_chars = 4000
    return kb


def _document(version: str, sections: int = 60) -> str:
    parts = ["# 店铺资料\n"]
    for s in range(sections):
        if s % 20 == 0:
            parts.append(f"## 第{s // 20}部分\n")
        body = "".join(f"{version}版第{s}节第{i}句：礼盒{i}号是{s * 10 + i}元，{i}天内有效。"
                       for i in range(12))
        parts.append(body + "\n")
    return "\n".join(parts)


def _rows(kb, source: str) -> list[dict]:
    return kb.store.rows(f"source = '{source}'", ["id", "text", "locator", "meta"])


def test_a_big_text_file_is_written_in_bounded_batches(tmp_path):
    import json

    path = tmp_path / "big.md"
    text = _document("甲", sections=150)
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size > SETTINGS.stream_text_mb * 2**20
    kb = _open(tmp_path / "home")
    batches: list[int] = []  # rows per segment, as they are handed to LanceDB
    segments = kb._stream_rows

    def counted(*args, **kw):
        for rows in segments(*args, **kw):
            batches.append(len(rows))
            yield rows

    kb._stream_rows = counted
    steps: list[str] = []
    try:
        report = kb.add([path], progress=lambda name, *_: steps.append(name))
        rows = _rows(kb, "big.md")
        versions = len(kb.store.chunks().list_versions())
    finally:
        kb.close()
    assert report.results[0].status == "ok", report.lines()
    assert len(batches) >= 5 and max(batches) <= 80, batches  # 4,000-8,000 characters a batch
    assert sum(batches) == len(rows) == report.results[0].chunks
    assert versions <= 3, versions  # created, one append, the index: nothing to compact
    assert steps[-2] == "big.md 100%" and len([s for s in steps if "%" in s]) >= 5
    # A heading read in an early segment still heads the text of later ones.
    last = max(rows, key=lambda r: int(r["locator"].split()[1]))
    assert json.loads(last["meta"])["headings"] == ["店铺资料", "第7部分"]
    # Line numbers count from the file's start, across segments.
    lines = text.split("\n")
    for r in rows[::25]:
        line = lines[int(r["locator"].split()[1]) - 1]  # where the chunk's paragraph starts
        first = r["text"].split("\n")[1].split("。")[0]
        assert first in line, (r["locator"], first)


def test_a_failure_midway_keeps_the_old_version_and_no_part_of_the_new(tmp_path, monkeypatch):
    from alpha01.knowledge import formats

    monkeypatch.setattr(formats, "_STREAM_READ", 4096)  # the file is read 4 KB at a time
    path = tmp_path / "big.txt"
    path.write_text(_document("旧"), encoding="utf-8")
    kb = _open(tmp_path / "home")
    try:
        assert kb.add([path]).results[0].status == "ok"
        before = sorted(r["id"] for r in _rows(kb, "big.txt"))
        tables = kb.store._table_names()
        # A new version whose second half is not UTF-8: found only after some batches.
        path.write_bytes(_document("新").encode("utf-8") + b"\n\xff\xfe\xfd" * 100)
        result = kb.add([path]).results[0]
        assert result.status == "error" and "utf-8" in result.detail, result.line()
        assert sorted(r["id"] for r in _rows(kb, "big.txt")) == before
        assert all("旧版" in r["text"] for r in _rows(kb, "big.txt"))
        assert kb.store._table_names() == tables  # the staging table is gone
        assert kb.search("旧版第3节礼盒", k=1)[0].source == "big.txt"
    finally:
        kb.close()


CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.knowledge.test_stream import _open
kb = _open(Path({home!r}))
def progress(name, done, total):
    if name.endswith("%"):
        Path({marker!r}).write_text(name)
        time.sleep(120)  # killed here, with batches of the new version staged
kb.add([Path({path!r})], progress=progress)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
def test_kill_9_midway_leaves_the_old_version_searchable(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(_document("旧"), encoding="utf-8")
    home = tmp_path / "home"
    kb = _open(home)
    assert kb.add([path]).results[0].status == "ok"
    before = sorted(r["id"] for r in _rows(kb, "big.txt"))
    kb.close()

    path.write_text(_document("新", sections=90), encoding="utf-8")
    marker = tmp_path / "staged"
    root = str(Path(__file__).resolve().parents[2])
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(
        root=root, home=str(home), marker=str(marker), path=str(path))])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the child ended before staging anything"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)

    kb = _open(home)
    try:
        assert sorted(r["id"] for r in _rows(kb, "big.txt")) == before
        assert kb.search("旧版第3节礼盒", k=1)[0].source == "big.txt"
        assert [f["sha256"] for f in kb.files()] != []
        # The next run ingests the new version and overwrites the abandoned staging table.
        assert kb.add([path]).results[0].status == "ok"
        assert all("新版" in r["text"] for r in _rows(kb, "big.txt"))
        assert kb.store._table_names() == {"files", kb.store.meta["table"]}
    finally:
        kb.close()


@pytest.mark.parametrize("first", [False, True], ids=["empty-kb", "kb-with-a-file"])
def test_a_write_during_the_streaming_is_kept_by_the_switch(tmp_path, first):
    path = tmp_path / "big.txt"
    path.write_text(_document("新"), encoding="utf-8")
    kb = _open(tmp_path / "home")
    if first:
        small = tmp_path / "hours.md"
        small.write_text("# 营业时间\n\n每天 8:30 到 21:00。\n", encoding="utf-8")
        assert kb.add([small]).results[0].status == "ok"
    added = []

    def progress(name, done, total):
        if name.endswith("%") and not added:  # midway: the owner answers an inbox question
            added.append(kb.add_faq("可以开发票吗", "可以，下单时备注抬头。"))

    try:
        assert kb.add([path], progress=progress).results[0].status == "ok"
        assert added
        assert kb.faq_match("可以开发票吗").answer == "可以，下单时备注抬头。"
        assert len(_rows(kb, "inbox")) == 1 and _rows(kb, "big.txt")
        assert bool(_rows(kb, "hours.md")) == first
    finally:
        kb.close()
