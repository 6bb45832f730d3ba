"""Reading the files merchants have: encodings, Word, PDF, spreadsheets, HTML, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from alpha01.errors import InputError
from alpha01.knowledge.formats import decode_text, read_document

from .pdfkit import make_pdf

LIMIT = 10 * 1024 * 1024
TEXT = "配送说明\n\n三公里内免费送货上门。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16",
                                      "utf-16-le", "utf-16-be"])
def test_text_encodings_are_detected(encoding):
    assert decode_text(TEXT.encode(encoding)) == TEXT


def test_gbk_text_file_with_crlf_becomes_heading_and_text(tmp_path: Path):
    path = tmp_path / "delivery.txt"
    path.write_bytes("同城配送说明\r\n\r\n一、配送费\r\n三公里内免费。\r\n".encode("gbk"))
    blocks = read_document(path, LIMIT).blocks
    assert [(b.heading, b.text) for b in blocks] == [
        (1, "同城配送说明"), (2, "一、配送费"), (0, "三公里内免费。")]


def test_markdown_headings_and_tables(tmp_path: Path):
    path = tmp_path / "intro.md"
    path.write_text("# 店铺\n\n## 营业时间\n\n| 日期 | 时间 |\n| --- | --- |\n| 周一 | 9-21 |\n",
                    encoding="utf-8")
    blocks = read_document(path, LIMIT).blocks
    assert [b.heading for b in blocks] == [1, 2, 0]
    assert blocks[2].table and "周一 | 9-21" in blocks[2].text
    assert "---" not in blocks[2].text


def test_docx_paragraph_styles_and_tables(tmp_path: Path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("售后政策", level=1)
    document.add_heading("一、退款", level=2)
    document.add_paragraph("签收后七天内可以申请退款。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "等级", "折扣"
    table.cell(1, 0).text, table.cell(1, 1).text = "金卡", "95折"
    path = tmp_path / "policy.docx"
    document.save(path)
    blocks = read_document(path, LIMIT).blocks
    assert (blocks[0].heading, blocks[0].text) == (1, "售后政策")
    assert (blocks[1].heading, blocks[1].text) == (2, "一、退款")
    assert blocks[2].text == "签收后七天内可以申请退款。"
    assert blocks[3].table and "金卡 | 95折" in blocks[3].text


def test_pdf_text_layer_in_chinese(tmp_path: Path):
    path = tmp_path / "gift.pdf"
    path.write_bytes(make_pdf([["礼盒说明", "礼盒需要提前一天预订。"], ["第二页：企业定制"]]))
    parsed = read_document(path, LIMIT)
    text = "\n".join(b.text for b in parsed.blocks)
    assert "礼盒需要提前一天预订。" in text and "企业定制" in text
    assert parsed.blocks[-1].locator.startswith("page 2")


def test_faq_sheet_by_header(tmp_path: Path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "常见问题"
    sheet.append(["序号", "常见问题", "回复"])
    sheet.append([1, "可以开发票吗", "可以开电子发票。"])
    sheet.append([2, "几点关门", "晚上十点。"])
    sheet.append([3, None, None])
    path = tmp_path / "faq.xlsx"
    book.save(path)
    records = read_document(path, LIMIT).records
    assert [(r.kind, r.question, r.answer) for r in records] == [
        ("faq", "可以开发票吗", "可以开电子发票。"), ("faq", "几点关门", "晚上十点。")]
    assert records[0].locator == "sheet 常见问题 row 2"


@pytest.mark.parametrize("header", ["Q,A", "question,answer", "问,答"])
def test_faq_csv_header_variants(tmp_path: Path, header: str):
    path = tmp_path / "faq.csv"
    path.write_text(f"{header}\n能开发票吗,可以\n", encoding="utf-8")
    (record,) = read_document(path, LIMIT).records
    assert (record.question, record.answer) == ("能开发票吗", "可以")


def test_product_sheet_keeps_every_column(tmp_path: Path):
    path = tmp_path / "prices.csv"
    path.write_bytes("商品,规格,价格,备注\r\n西湖龙井,250克,168元,明前\r\n".encode("gbk"))
    (record,) = read_document(path, LIMIT).records
    assert record.kind == "product" and record.key == "西湖龙井"
    assert record.fields == {"商品": "西湖龙井", "规格": "250克", "价格": "168元", "备注": "明前"}
    assert record.text == "商品：西湖龙井；规格：250克；价格：168元；备注：明前"


def test_html_headings_and_paragraphs(tmp_path: Path):
    path = tmp_path / "about.html"
    path.write_text("<html><head><style>p{}</style></head><body><h1>关于我们</h1>"
                    "<p>老街口的茶果铺。</p><script>x=1</script></body></html>", encoding="utf-8")
    blocks = read_document(path, LIMIT).blocks
    assert [(b.heading, b.text) for b in blocks] == [(1, "关于我们"), (0, "老街口的茶果铺。")]


# -- bad input: one clear sentence each ------------------------------------------------------


def _encrypted_pdf(password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf([["机密价格表"]]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("name,data,message", [
    ("empty.txt", b"", "file is empty"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "damaged PDF"),
    ("fake.pdf", b"hello, not a pdf", "not a PDF file"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable Word"),
    ("broken.xlsx", b"not a zip at all", "not a readable Excel"),
    ("photo.jpg", b"\xff\xd8\xff\xe0", "unsupported file type .jpg"),
    ("sheet.csv", "编号,日期\n1,2024-01-01\n".encode(), "no recognisable header"),
    ("blank.md", b"\n\n   \n", "no text found"),
])
def test_bad_files_get_a_clear_error(tmp_path: Path, name: str, data: bytes, message: str):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_document(path, LIMIT)


def test_password_protected_pdf(tmp_path: Path):
    path = tmp_path / "secret.pdf"
    path.write_bytes(_encrypted_pdf("1234"))
    with pytest.raises(InputError, match="password-protected"):
        read_document(path, LIMIT)


def test_pdf_protected_only_by_owner_password_still_reads(tmp_path: Path):
    path = tmp_path / "open.pdf"
    path.write_bytes(_encrypted_pdf(""))
    assert "机密价格表" in read_document(path, LIMIT).blocks[0].text


def test_pdf_without_text_layer(tmp_path: Path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[]]))
    with pytest.raises(InputError, match="no text layer"):
        read_document(path, LIMIT)


def test_oversize_file_is_refused_before_reading(tmp_path: Path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:
        fh.truncate(3 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(InputError, match="3.0 MB, over the limit of 2 MB"):
        read_document(path, 2 * 1024 * 1024)


def test_missing_file(tmp_path: Path):
    with pytest.raises(InputError, match="disappeared"):
        read_document(tmp_path / "gone.md", LIMIT)


def test_pdf_table_rows_keep_their_cells_together(tmp_path: Path):
    """A table in a PDF has no table structure in its text layer, only positioned text: each
    row must come out as one line with its cells, not one cell per line."""
    path = tmp_path / "teabox.pdf"
    path.write_bytes(make_pdf([[
        "茶礼套装",
        [(50, "套装"), (200, "价格"), (300, "内容")],
        [(50, "品茗套装"), (200, "188元"), (300, "龙井2罐、茶杯4只")],
        [(50, "藏茶套装"), (200, "426元"), (300, "白茶饼1片、紫砂壶1把")],
        "- 套装要提前2天订。",
    ]]))
    parsed = read_document(path, 10**6)
    tables = [b for b in parsed.blocks if b.table]
    assert len(tables) == 1
    assert tables[0].text.splitlines() == [
        "套装 | 价格 | 内容", "品茗套装 | 188元 | 龙井2罐、茶杯4只", "藏茶套装 | 426元 | 白茶饼1片、紫砂壶1把"]
    text = [b.text for b in parsed.blocks if not b.table]
    assert "茶礼套装" in text and any("提前2天订" in t for t in text)
    # the paragraph after the table still knows where it is on the page
    assert [b.locator for b in parsed.blocks if "提前2天订" in b.text and not b.table] == ["page 1 line 5"]


# Real Big5 bytes of traditional text (a Taiwan or Hong Kong shop's notice saved on Windows).
BIG5_TEXT = "營業時間\n\n每天上午九點到晚上九點營業，週一公休。退貨請在七天內聯繫我們，運費由買家負擔。"


@pytest.mark.parametrize("encoding", ["big5", "cp950"])
def test_big5_traditional_text_is_decoded_not_garbled(encoding):
    assert decode_text(BIG5_TEXT.encode(encoding)) == BIG5_TEXT


def test_simplified_gbk_text_stays_gbk_when_big5_would_also_decode():
    text = "营业时间\n\n每天上午九点到晚上九点营业，退货请在七天内联系我们。"
    data = text.encode("gbk")
    assert decode_text(data) == text
