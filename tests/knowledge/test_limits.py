"""Files built to exhaust `kb add`: a zip-bomb .docx, too many zip entries, a PDF with too many
pages, a sheet with too many rows, too much text. Each gets its own Chinese-first error line and
the other files of the same run still ingest."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from alpha01.config import KnowledgeSettings
from alpha01.knowledge import HashEmbedder, open_kb
from alpha01.knowledge.limits import MB
from bench.hostile_files import docx_bytes, zip_bomb_docx


@pytest.fixture
def kb(tmp_path):
    from alpha01.paths import Paths

    settings = KnowledgeSettings(embedder="hash", max_file_mb=5.0, max_unzipped_mb=16,
                                 max_zip_entries=100, max_pdf_pages=5, max_sheet_rows=50,
                                 max_file_chars=20_000)
    kb = open_kb(Paths(tmp_path / "home"), settings, embedder=HashEmbedder())
    yield kb
    kb.close()


def _add(kb, tmp_path: Path, files: dict[str, bytes]) -> dict[str, tuple[str, str]]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "good.md").write_text("# 营业时间\n\n每天 8:30 到 21:00。\n", encoding="utf-8")
    report = kb.add([folder])
    return {Path(r.path).name: (r.status, r.detail) for r in report.results}


def test_zip_bomb_docx_is_refused_before_it_is_unpacked(kb, tmp_path):
    bomb = zip_bomb_docx(300)
    assert len(bomb) < 2 * MB  # small on disk, 300 MB inside
    got = _add(kb, tmp_path, {"bomb.docx": bomb})
    status, detail = got["bomb.docx"]
    assert status == "error" and detail.startswith("解压后大小超过上限")
    assert "max_unzipped_mb" in detail
    assert got["good.md"][0] == "ok"


def test_too_many_zip_entries(kb, tmp_path):
    src = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        for i in range(200):
            out.writestr(f"extra/part{i}.xml", "<a/>")
    got = _add(kb, tmp_path, {"many.docx": buf.getvalue(), "ok.docx": docx_bytes()})
    assert got["many.docx"][0] == "error" and "max_zip_entries" in got["many.docx"][1]
    assert got["many.docx"][1].startswith("压缩包内文件数超过上限")
    assert got["ok.docx"][0] == "ok" and got["good.md"][0] == "ok"


def test_pdf_pages_sheet_rows_and_characters(kb, tmp_path):
    import openpyxl
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(8):
        writer.add_blank_page(200, 200)
    pdf = io.BytesIO()
    writer.write(pdf)
    book = openpyxl.Workbook()
    book.active.append(["商品", "价格"])
    for i in range(80):
        book.active.append([f"苹果{i}", i])
    xlsx = io.BytesIO()
    book.save(xlsx)
    csv = ("商品,价格\n" + "".join(f"梨{i},{i}\n" for i in range(80))).encode()
    text = ("好" * 30_000).encode("utf-8")
    got = _add(kb, tmp_path, {"long.pdf": pdf.getvalue(), "rows.xlsx": xlsx.getvalue(),
                              "rows.csv": csv, "long.txt": text})
    assert got["long.pdf"][0] == "error" and got["long.pdf"][1].startswith("PDF 页数超过上限")
    for name in ("rows.xlsx", "rows.csv"):
        assert got[name][0] == "error" and got[name][1].startswith("表格行数超过上限"), got[name]
    assert got["long.txt"][0] == "error" and got["long.txt"][1].startswith("文字数超过上限")
    assert got["good.md"][0] == "ok"


def test_a_big_file_reports_progress_within_itself(tmp_path):
    from alpha01.paths import Paths
    from bench.hostile_files import text_file

    kb = open_kb(Paths(tmp_path / "home"), KnowledgeSettings(embedder="hash"),
                 embedder=HashEmbedder())
    seen: list[tuple[str, int, int]] = []
    try:
        report = kb.add([text_file(tmp_path / "big.txt", 0.5)],
                        progress=lambda *a: seen.append(a))
    finally:
        kb.close()
    assert report.results[0].status == "ok"
    steps = [name for name, _, _ in seen if name.startswith("big.txt ")]
    assert len(steps) >= 2 and steps[-1] == "big.txt 100%", steps
