"""Caps on what one knowledge file can make `kb add` hold: decompressed size and entry count
of Office (zip) files, pages of a PDF, rows of a spreadsheet, characters of text. A file over a
cap gets its own error line (Chinese first, then English, naming the setting to raise) and the
other files still ingest. Checked before the expensive parse wherever the file says its size
up front (a zip's directory, a PDF's page count)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

MB = 1024 * 1024
ZIP_EXTS = {".docx", ".xlsx", ".xlsm"}


@dataclass(frozen=True)
class Limits:
    max_unzipped_bytes: int = 64 * MB
    max_zip_entries: int = 5000
    max_pdf_pages: int = 2000
    max_sheet_rows: int = 100_000
    max_file_chars: int = 1_000_000

    @classmethod
    def of(cls, settings: Any) -> Limits:
        """From KnowledgeSettings (missing fields keep the defaults)."""
        d = cls()
        return cls(
            max_unzipped_bytes=int(getattr(settings, "max_unzipped_mb",
                                           d.max_unzipped_bytes / MB) * MB),
            max_zip_entries=int(getattr(settings, "max_zip_entries", d.max_zip_entries)),
            max_pdf_pages=int(getattr(settings, "max_pdf_pages", d.max_pdf_pages)),
            max_sheet_rows=int(getattr(settings, "max_sheet_rows", d.max_sheet_rows)),
            max_file_chars=int(getattr(settings, "max_file_chars", d.max_file_chars)),
        )


def over(what_zh: str, what_en: str, found: str, cap: str, setting: str) -> InputError:
    return InputError(f"{what_zh}超过上限（{found}，上限 {cap}，设置 knowledge.{setting}）/ "
                      f"{what_en} over the limit ({found}, limit {cap}, setting "
                      f"knowledge.{setting})")


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse a zip whose directory declares too many entries or too many bytes unpacked.
    (zipfile never returns more than an entry declares, so the declared sizes bound the work.)"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip at all: the format's own reader says so in its words
    if len(infos) > limits.max_zip_entries:
        raise over("压缩包内文件数", "entries in the file", str(len(infos)),
                   str(limits.max_zip_entries), "max_zip_entries")
    unpacked = sum(i.file_size for i in infos)
    if unpacked > limits.max_unzipped_bytes:
        raise over("解压后大小", "size unpacked", f"{unpacked / MB:.0f} MB",
                   f"{limits.max_unzipped_bytes / MB:g} MB", "max_unzipped_mb")


def check_chars(n: int, limits: Limits) -> None:
    if n > limits.max_file_chars:
        raise over("文字数", "characters", f"{n:,}", f"{limits.max_file_chars:,}",
                   "max_file_chars")


def check_pages(n: int, limits: Limits) -> None:
    if n > limits.max_pdf_pages:
        raise over("PDF 页数", "PDF pages", str(n), str(limits.max_pdf_pages), "max_pdf_pages")


def check_rows(n: int, limits: Limits) -> None:
    if n > limits.max_sheet_rows:
        raise over("表格行数", "spreadsheet rows", f"{n:,}+", f"{limits.max_sheet_rows:,}",
                   "max_sheet_rows")
