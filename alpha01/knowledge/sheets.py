"""Spreadsheets (.xlsx, .xls, .csv): FAQ sheets and product/price sheets, told apart by header.

A sheet whose header names a question and an answer column (问题/答案, Q/A, 常见问题/回复…)
becomes FAQ entries. A sheet with a product-name column (商品, 品名, 名称…) or a price column
becomes one product record per row with every column kept. Anything else is an InputError
that says which headers were expected.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable
from typing import Any

from ..errors import InputError
from .formats import Parsed, Record, decode_text, normalise
from .limits import Limits, check_chars, check_rows

QUESTION_HEADERS = ("常见问题", "问题", "提问", "客户问题", "顾客问题", "问", "q", "question",
                    "faq", "questions")
ANSWER_HEADERS = ("答案", "回答", "回复", "答复", "解答", "标准回复", "答", "a", "answer",
                  "answers", "reply")
NAME_HEADERS = ("商品名称", "商品名", "商品", "品名", "产品名称", "产品", "名称", "菜品", "菜名",
                "品种", "服务项目", "项目", "货品", "name", "product", "item", "title")
PRICE_HEADERS = ("价格", "售价", "单价", "零售价", "会员价", "价钱", "定价", "price", "unit price")

_HEADER_SCAN_ROWS = 10


def read_sheet(ext: str, data: bytes, limits: Limits | None = None) -> Parsed:
    limits = limits or Limits()
    if ext == ".csv":
        sheets = [("", _csv_rows(data, limits))]
    elif ext == ".xls":
        sheets = _xls_sheets(data, limits)
    else:
        sheets = _xlsx_sheets(data, limits)
    records: list[Record] = []
    problems: list[str] = []
    for sheet_name, rows in sheets:
        rows = [[_cell(v) for v in row] for row in rows]
        rows = [row for row in rows if any(row)]
        if not rows:
            continue
        try:
            records.extend(_sheet_records(sheet_name, rows))
        except InputError as exc:
            problems.append(str(exc))
    if not records:
        if problems:
            raise InputError("; ".join(problems))
        raise InputError("spreadsheet has no rows")
    return Parsed(records=records)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Kept as the merchant typed it (an FAQ answer is sent verbatim); only outer whitespace
    # goes. Header matching normalises its own copy.
    return str(value).strip()


def _key(header: str) -> str:
    return re.sub(r"[\s:()#*_\-]", "", normalise(header).lower())


def _match(header: str, names: tuple[str, ...]) -> bool:
    h = _key(header)
    return any(h == n.replace(" ", "") for n in names) or any(
        len(n) >= 2 and not n.isascii() and h.startswith(n) for n in names
    )


def _find_column(header: list[str], names: tuple[str, ...]) -> int | None:
    # Exact matches first ("问题" beats "问题分类"), then prefixes.
    for i, h in enumerate(header):
        if _key(h) in {n.replace(" ", "") for n in names}:
            return i
    for i, h in enumerate(header):
        if _match(h, names):
            return i
    return None


def _sheet_records(sheet: str, rows: list[list[str]]) -> list[Record]:
    where = f"sheet {sheet}: " if sheet else ""
    for hi, header in enumerate(rows[:_HEADER_SCAN_ROWS]):
        q, a = _find_column(header, QUESTION_HEADERS), _find_column(header, ANSWER_HEADERS)
        if q is not None and a is not None and q != a:
            return _faq_records(sheet, header, rows[hi + 1 :], hi, q, a)
        name, price = _find_column(header, NAME_HEADERS), _find_column(header, PRICE_HEADERS)
        if name is not None or (price is not None and sum(1 for h in header if h) >= 2):
            return _product_records(sheet, header, rows[hi + 1 :], hi, name, price)
    shown = ", ".join(h for h in rows[0] if h)[:80] or "(empty)"
    raise InputError(
        f"{where}no recognisable header (first row: {shown}); expected question/answer columns "
        "(问题/答案, Q/A) or a product sheet (商品/名称 and 价格)"
    )


def _locator(sheet: str, row: int) -> str:
    return f"{'sheet ' + sheet + ' ' if sheet else ''}row {row}"


def _faq_records(sheet: str, header: list[str], rows: list[list[str]], header_index: int,
                 q: int, a: int) -> list[Record]:
    out: list[Record] = []
    for offset, row in enumerate(rows):
        question = row[q] if q < len(row) else ""
        answer = row[a] if a < len(row) else ""
        if not question or not answer:
            continue
        extra = {header[i]: v for i, v in enumerate(row)
                 if i not in (q, a) and i < len(header) and header[i] and v}
        out.append(Record(
            kind="faq", key=question, text=f"问：{question}\n答：{answer}",
            locator=_locator(sheet, header_index + offset + 2),
            question=question, answer=answer, fields=extra,
        ))
    return out


def _product_records(sheet: str, header: list[str], rows: list[list[str]], header_index: int,
                     name: int | None, price: int | None) -> list[Record]:
    names = [h or f"列{i + 1}" for i, h in enumerate(header)]
    out: list[Record] = []
    for offset, row in enumerate(rows):
        fields = {names[i]: v for i, v in enumerate(row) if i < len(names)}
        key = row[name] if name is not None and name < len(row) else ""
        if not key:
            key = next((v for v in row if v), "")
        if not key:
            continue
        out.append(Record(
            kind="product", key=key, text=product_text(fields),
            locator=_locator(sheet, header_index + offset + 2), fields=fields,
        ))
    return out


def product_text(fields: dict[str, Any]) -> str:
    """One product as one line of text: "商品：苹果；规格：5斤/箱；价格：59.9元/箱"."""
    return "；".join(f"{k}：{v}" for k, v in fields.items() if str(v).strip())


def _csv_rows(data: bytes, limits: Limits) -> list[list[str]]:
    text = decode_text(data)
    check_chars(len(text), limits)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|，")
    except csv.Error:
        dialect = csv.excel
    try:
        return _capped(csv.reader(io.StringIO(text), dialect), limits)
    except csv.Error as exc:
        raise InputError(f"cannot read CSV: {exc}") from exc


def _capped(rows: Iterable[Any], limits: Limits, before: int = 0) -> list[list[Any]]:
    """The rows, or InputError past the row cap (counted across a file's sheets)."""
    out = [list(r) for r in itertools.islice(rows, limits.max_sheet_rows - before + 1)]
    check_rows(before + len(out), limits)
    return out


def _xlsx_sheets(data: bytes, limits: Limits) -> list[tuple[str, list[list[Any]]]]:
    import zipfile

    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover
        raise InputError("reading .xlsx needs openpyxl (pip install 'alpha01[kb]')") from exc
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(f"not a readable Excel .xlsx file ({exc.__class__.__name__})") from exc
    except Exception as exc:
        raise InputError(f"not a readable Excel .xlsx file: {exc}") from exc
    try:
        sheets: list[tuple[str, list[list[Any]]]] = []
        for ws in book.worksheets:
            seen = sum(len(rows) for _, rows in sheets)
            sheets.append((ws.title, _capped(ws.iter_rows(values_only=True), limits, seen)))
        return sheets
    finally:
        book.close()


def _xls_sheets(data: bytes, limits: Limits) -> list[tuple[str, list[list[Any]]]]:
    try:
        import xlrd
    except ImportError as exc:  # pragma: no cover
        raise InputError("reading .xls needs xlrd (pip install 'alpha01[kb]')") from exc
    try:
        book = xlrd.open_workbook(file_contents=data)
    except Exception as exc:  # xlrd raises XLRDError and assorted struct errors
        raise InputError(f"not a readable Excel .xls file: {exc}") from exc
    check_rows(sum(sh.nrows for sh in book.sheets()), limits)
    return [(sh.name, [sh.row_values(i) for i in range(sh.nrows)]) for sh in book.sheets()]
