"""Reading the merchant's files: bytes on disk → text blocks, FAQ entries and product rows.

Every reader raises InputError with a sentence a merchant can act on ("PDF is password-
protected", "no 问题/答案 or 商品/价格 header found"); nothing here touches the index.
Spreadsheets live in `sheets.py`.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import InputError
from .limits import ZIP_EXTS, Limits, check_chars, check_pages, check_zip

TEXT_EXTS = {".md", ".markdown", ".txt", ".text"}
HTML_EXTS = {".html", ".htm"}
SHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".csv"}
SUPPORTED = TEXT_EXTS | HTML_EXTS | SHEET_EXTS | {".docx", ".pdf"}


@dataclass
class Block:
    """A run of text in reading order. `heading` > 0 marks a heading of that level."""

    text: str
    heading: int = 0
    locator: str = ""
    table: bool = False


@dataclass
class Record:
    """One FAQ entry or one product row from a spreadsheet (or a sync job)."""

    kind: str  # "faq" | "product"
    key: str  # the question, or the product name: stable identity within its file
    text: str  # what is indexed and shown
    locator: str
    question: str | None = None
    answer: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    blocks: list[Block] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(b.text.strip() for b in self.blocks) and not self.records


def load_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file for ingest, refusing unsupported, empty and oversize files."""
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise InputError(
            f"unsupported file type {ext or '(no extension)'}; "
            f"supported: {', '.join(sorted(SUPPORTED))}"
        )
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError("file is empty")
        if size > max_bytes:
            raise InputError(
                f"file is {size / 2**20:.1f} MB, over the limit of {max_bytes / 2**20:g} MB "
                "(setting knowledge.max_file_mb)"
            )
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise InputError("file disappeared before it could be read") from exc
    except IsADirectoryError as exc:
        raise InputError("is a folder, not a file") from exc
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew between stat and read
        raise InputError("file is over the size limit (setting knowledge.max_file_mb)")
    if not data:
        raise InputError("file is empty")
    return data


def parse_bytes(ext: str, data: bytes, limits: Limits | None = None) -> Parsed:
    """Turn a file's bytes into blocks and records. Raises InputError, also for a file over
    one of the `limits` (zip bombs, huge PDFs and sheets, too much text)."""
    ext = ext.lower()
    limits = limits or Limits()
    if ext in ZIP_EXTS:
        check_zip(data, limits)
    if ext in SHEET_EXTS:
        from .sheets import read_sheet

        parsed = read_sheet(ext, data, limits)
    elif ext == ".docx":
        parsed = _read_docx(data)
    elif ext == ".pdf":
        parsed = _read_pdf(data, limits)
    elif ext in HTML_EXTS:
        parsed = _read_html(_text(data, limits))
    elif ext in {".md", ".markdown"}:
        parsed = Parsed(_markdown_blocks(_text(data, limits)))
    elif ext in TEXT_EXTS:
        parsed = Parsed(_plain_blocks(_text(data, limits)))
    else:
        raise InputError(f"unsupported file type {ext}")
    check_chars(sum(len(b.text) for b in parsed.blocks)
                + sum(len(r.text) for r in parsed.records), limits)
    if parsed.empty:
        raise InputError("no text found in file")
    return parsed


def _text(data: bytes, limits: Limits) -> str:
    if len(data) // 4 > limits.max_file_chars:  # even 4-byte characters would be too many
        check_chars(len(data) // 4, limits)
    text = decode_text(data)
    check_chars(len(text), limits)
    return text


def read_document(path: Path, max_bytes: int, limits: Limits | None = None) -> Parsed:
    """Parse one file. Raises InputError for anything that cannot become knowledge."""
    return parse_bytes(path.suffix, load_bytes(path, max_bytes), limits)


# -- text and encodings ---------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """Decode a text file from a Chinese Windows PC: UTF-8 (with or without BOM), UTF-16
    (BOM, or the tell-tale zero bytes), GBK/GB18030 or Big5, and whatever charset-normalizer finds."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return _clean(data.decode(enc))
            except UnicodeDecodeError as exc:
                raise InputError(f"text starts with a {enc} mark but is not {enc}") from exc
    try:
        return _clean(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    sample = data[:4000]
    if len(sample) >= 4 and sample.count(0) > len(sample) // 4:
        even_zeros = sample[0::2].count(0)
        odd_zeros = sample[1::2].count(0)
        enc = "utf-16-le" if odd_zeros > even_zeros else "utf-16-be"
        try:
            return _clean(data.decode(enc))
        except UnicodeDecodeError:
            pass
    if b"\x00" not in sample:
        text = _chinese_legacy(data)
        if text is not None:
            return _clean(text)
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer is in the kb extra
        from_bytes = None
    if from_bytes is not None:
        best = from_bytes(data).best()
        if best is not None and best.encoding:
            return _clean(str(best))
    raise InputError("cannot tell the text encoding (tried UTF-8, UTF-16, GBK/GB18030, Big5)")


def _chinese_legacy(data: bytes) -> str | None:
    """Simplified (GBK/GB18030) or traditional (Big5/CP950) Chinese: Big5 bytes nearly always
    decode as GB18030 too, into rare characters, so each encoding that decodes strictly is
    scored by how many of its characters are common (level 1 of GB2312 or of Big5); GB18030
    wins a tie."""
    best: tuple[int, str] | None = None
    for enc in ("gb18030", "cp950"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        score = sum(1 for ch in text if _common_cjk(ch))
        if best is None or score > best[0]:
            best = (score, text)
    return best[1] if best else None


def _common_cjk(ch: str) -> bool:
    if ch < "\u3000":
        return False
    for enc, low, high in (("gb2312", b"\xb0\xa1", b"\xd7\xfe"),
                           ("big5", b"\xa4\x40", b"\xc6\x7e")):
        try:
            code = ch.encode(enc)
        except UnicodeEncodeError:
            continue
        if low <= code <= high:
            return True
    return False


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    if "\x00" in text:
        raise InputError("file looks binary, not text")
    return text


def normalise(text: str) -> str:
    """NFKC (full-width digits, letters and colons to ASCII) and collapsed whitespace."""
    return re.sub(r"[ \t\u3000]+", " ", unicodedata.normalize("NFKC", text)).strip()


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
# Headings in plain text: "一、配送范围", "第三章 售后", "1. 配送", "（二）会员", "【营业时间】".
_TXT_HEADING = re.compile(
    r"^(第[一二三四五六七八九十百\d]+[章节部分条]|[一二三四五六七八九十]+[、.．]|"
    r"[（(][一二三四五六七八九十\d]+[)）]|\d+(\.\d+)*[、.．](?!\d)|【[^】]{1,20}】)"
)


def _markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    para_line = 0
    in_table = False

    def flush() -> None:
        nonlocal para
        if para:
            blocks.append(Block("\n".join(para), 0, f"line {para_line}", table=in_table))
            para = []

    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        m = _MD_HEADING.match(line)
        if m:
            flush()
            blocks.append(Block(m.group(2), len(m.group(1)), f"line {no}"))
            in_table = False
            continue
        if not line.strip():
            flush()
            in_table = False
            continue
        is_table = line.lstrip().startswith("|")
        if is_table != in_table:
            flush()
            in_table = is_table
        if is_table and _MD_TABLE_RULE.match(line):
            continue
        if is_table:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            line = " | ".join(cells)
        if not para:
            para_line = no
        para.append(line)
    flush()
    return blocks


def _plain_blocks(text: str, locator: str = "line", detect_title: bool = True) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    start = 0
    lines = text.split("\n")
    first_content = next((i for i, ln in enumerate(lines) if ln.strip()), None)

    def flush() -> None:
        nonlocal para
        if para:
            blocks.append(Block("\n".join(para), 0, f"{locator} {start}"))
            para = []

    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            flush()
            continue
        title = (detect_title and no - 1 == first_content and len(line) <= 40
                 and not _ends_sentence(line))
        if title or (len(line) <= 30 and _TXT_HEADING.match(line) and not _ends_sentence(line)):
            flush()
            blocks.append(Block(line, 1 if title else 2, f"{locator} {no}"))
            continue
        if not para:
            start = no
        para.append(line)
    flush()
    return blocks


def _ends_sentence(line: str) -> bool:
    return line[-1] in "。！？!?；;，,"


# -- Word -----------------------------------------------------------------------------------


def _read_docx(data: bytes) -> Parsed:
    import io
    import zipfile

    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:  # pragma: no cover
        raise InputError("reading .docx needs python-docx (pip install 'alpha01[kb]')") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"not a readable Word .docx file ({exc.__class__.__name__})") from exc
    except Exception as exc:  # lxml errors inside a damaged package
        raise InputError(f"not a readable Word .docx file: {exc}") from exc

    from docx.table import Table
    from docx.text.paragraph import Paragraph

    blocks: list[Block] = []
    para_no = table_no = 0
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para_no += 1
            p = Paragraph(child, document)
            text = p.text.strip()
            if not text:
                continue
            style = (p.style.name if p.style is not None else "") or ""
            level = _docx_heading_level(style)
            blocks.append(Block(text, level, f"paragraph {para_no}"))
        elif tag == "tbl":
            table_no += 1
            table = Table(child, document)
            rows = []
            for row in table.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = cell.text.strip().replace("\n", " ")
                    if not cells or cells[-1] != value:  # merged cells repeat
                        cells.append(value)
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                blocks.append(Block("\n".join(rows), 0, f"table {table_no}", table=True))
    return Parsed(blocks)


def _docx_heading_level(style: str) -> int:
    s = style.lower()
    if s == "title":
        return 1
    m = re.match(r"(heading|标题)\s*(\d)", s)
    return min(int(m.group(2)), 6) if m else 0


# -- PDF ------------------------------------------------------------------------------------


def _read_pdf(data: bytes, limits: Limits) -> Parsed:
    import io
    import logging

    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover
        raise InputError("reading .pdf needs pypdf (pip install 'alpha01[kb]')") from exc
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns loudly about odd files
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise InputError("not a PDF file (no %PDF header); is the file damaged?")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many "protected" PDFs only restrict printing and open with an empty password.
            try:
                ok = reader.decrypt("")
            except Exception as exc:
                raise InputError(f"PDF is encrypted and cannot be opened ({exc})") from exc
            if not ok:
                raise InputError("PDF is password-protected; save an unprotected copy and add it")
        check_pages(len(reader.pages), limits)
        blocks: list[Block] = []
        for no, page in enumerate(reader.pages, 1):
            blocks.extend(_pdf_page_blocks(page, no))
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise InputError(f"damaged PDF, cannot read it ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:
        if exc.__class__.__module__.startswith("pypdf"):
            raise InputError(f"damaged PDF, cannot read it ({exc})") from exc
        raise
    if not any(b.text.strip() for b in blocks):
        raise InputError("PDF has no text layer (a scan?); only PDFs with selectable text work")
    return Parsed(_fix_pdf_blocks(blocks))


_PDF_GAP = re.compile(r"\s{2,}")


def _pdf_page_blocks(page: Any, no: int) -> list[Block]:
    """One page's blocks. The layout-preserving extraction keeps a table row on one line with
    its cells apart (runs of spaces), where the plain extraction puts every cell on a line of
    its own and the row is lost; so tables come from the layout text and become table blocks
    ("cell | cell"), like a Markdown table. Falls back to the plain text when the layout
    extraction fails or finds nothing."""
    locator = f"page {no} line"
    try:
        layout = page.extract_text(extraction_mode="layout") or ""
    except Exception:  # pypdf's layout mode is newer and pickier than the plain one
        layout = ""
    if not layout.strip():
        return _plain_blocks(_clean(page.extract_text() or ""), locator=locator)
    rows: list[tuple[int, list[str] | str]] = []  # (line no, cells of a table row | text)
    for line_no, raw in enumerate(_clean(layout).split("\n"), 1):
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip())
        cells = _PDF_GAP.split(raw.strip())
        prev = rows[-1][1] if rows else None
        if len(cells) == 1 and indent >= 8 and isinstance(prev, list):
            prev[-1] += cells[0]  # a cell's text wrapped onto the next line
            continue
        rows.append((line_no, cells if len(cells) >= 2 else raw.strip()))
    blocks: list[Block] = []
    text: list[tuple[int, str]] = []  # (line no, text) of the running non-table lines

    def flush_text() -> None:
        # Plain blocks number their lines from 1; put the page's own line numbers back.
        for b in _plain_blocks("\n".join(t for _, t in text), locator=locator,
                               detect_title=not blocks):
            k = int(b.locator.rsplit(" ", 1)[1])
            b.locator = f"{locator} {text[k - 1][0]}"
            blocks.append(b)
        text.clear()

    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and isinstance(rows[j][1], list):
            j += 1
        if j - i >= 2:  # a header and at least one row: a table
            flush_text()
            body = "\n".join(" | ".join(cells) for _, cells in rows[i:j])  # type: ignore[arg-type]
            blocks.append(Block(body, 0, f"{locator} {rows[i][0]}", table=True))
            i = j
            continue
        line_no, item = rows[i]
        text.append((line_no, " ".join(item) if isinstance(item, list) else item))
        i += 1
    flush_text()
    return blocks


def _fix_pdf_blocks(blocks: list[Block]) -> list[Block]:
    # The text layer has no blank lines between paragraphs: each page is one long block and
    # its headings were detected line by line. Nothing else to do, but drop page furniture
    # (a bare page number on its own line).
    return [b for b in blocks if not re.fullmatch(r"[-–— ]*\d{1,4}[-–— ]*", b.text.strip())]


# -- HTML -----------------------------------------------------------------------------------


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "head"}
    BLOCK = {"p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol", "dd",
             "dt", "blockquote", "pre", "td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.heading = 0
        self.skip = 0

    def _flush(self) -> None:
        text = normalise("".join(self.buf))
        self.buf = []
        if text:
            self.blocks.append(Block(text, self.heading, f"line {self.getpos()[0]}"))

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading = int(tag[1])
        elif tag in {"td", "th"}:
            self.buf.append(" | ")
        elif tag in self.BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading = 0
        elif tag in self.BLOCK and tag not in {"td", "th"}:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.buf.append(data)


def _read_html(text: str) -> Parsed:
    parser = _HTMLText()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:
        raise InputError(f"cannot read HTML: {exc}") from exc
    parser._flush()
    for b in parser.blocks:
        b.text = b.text.strip(" |")
    return Parsed([b for b in parser.blocks if b.text])


# -- big plain-text files, streamed -----------------------------------------------------------

STREAM_EXTS = TEXT_EXTS  # plain text and Markdown: what can be cut between paragraphs
_STREAM_READ = 1 << 20  # bytes read at a time


def _stream_encoding(sample: bytes) -> str:
    """The encoding of a big text file, told from its first bytes (`decode_text`'s rules,
    with incremental decoders: the sample may end inside a character)."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return enc

    def decodes(enc: str) -> str | None:
        try:
            return codecs.getincrementaldecoder(enc)().decode(sample, final=False)
        except UnicodeDecodeError:
            return None

    if decodes("utf-8") is not None:
        return "utf-8"
    head = sample[:4000]
    if len(head) >= 4 and head.count(0) > len(head) // 4:
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    best: tuple[int, str] | None = None
    for enc in ("gb18030", "cp950"):
        text = decodes(enc)
        if text is not None:
            score = sum(1 for ch in text[:20000] if _common_cjk(ch))
            if best is None or score > best[0]:
                best = (score, enc)
    if best is None:
        raise InputError("cannot tell the text encoding (tried UTF-8, UTF-16, GBK/GB18030, "
                         "Big5)")
    return best[1]


def stream_text_blocks(path: Path, segment_chars: int = 200_000):
    """A big .txt/.md file as blocks, a segment at a time, in bounded memory: yields
    (blocks of about `segment_chars` characters cut at a blank line, bytes read so far, file
    size). Line numbers in locators count from the file's start. Raises InputError for an
    undecodable or binary file (possibly after some segments: the caller must not keep a
    partial file)."""
    ext = path.suffix.lower()
    if ext not in STREAM_EXTS:
        raise InputError(f"{ext} files are not read in segments")
    markdown = ext in {".md", ".markdown"}
    try:
        size = path.stat().st_size
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}") from exc
    with fh:
        first = fh.read(_STREAM_READ)
        encoding = _stream_encoding(first)
        decoder = codecs.getincrementaldecoder(encoding)()
        done, line0, buf, first_segment = 0, 0, "", True
        data = first
        while True:
            final = not data
            try:
                buf += decoder.decode(data, final=final)
            except UnicodeDecodeError as exc:
                raise InputError(f"text is not valid {encoding} near byte "
                                 f"{done + exc.start:,}") from exc
            done += len(data)
            while len(buf) >= segment_chars or (final and buf):
                cut = len(buf) if final else _segment_end(buf, segment_chars)
                if not final and buf[cut - 1] == "\r":  # keep a CRLF together
                    cut -= 1
                segment, buf = buf[:cut], buf[cut:]
                text = _clean(segment)
                blocks = (_markdown_blocks(text) if markdown
                          else _plain_blocks(text, detect_title=first_segment))
                for b in blocks:
                    if b.locator.startswith("line "):
                        b.locator = f"line {int(b.locator[5:]) + line0}"
                line0 += text.count("\n")
                first_segment = False
                yield blocks, done, size
            if final:
                return
            try:
                data = fh.read(_STREAM_READ)
            except OSError as exc:
                raise InputError(f"cannot read file: {exc.strerror or exc}") from exc


def _segment_end(buf: str, segment_chars: int) -> int:
    """Where to cut `buf` after about `segment_chars` characters: at the last blank line, else
    the last line end, else there."""
    for sep in ("\n\n", "\r\n\r\n", "\n", "\r"):
        at = buf.rfind(sep, segment_chars // 2, segment_chars * 2)
        if at >= 0:
            return at + len(sep)
    return min(len(buf), segment_chars * 2)
