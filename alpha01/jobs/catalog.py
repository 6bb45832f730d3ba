"""Catalog (ERP) sync input: a CSV/XLSX file, or an HTTP(S) URL answering CSV or JSON.

`load_catalog` returns product rows only when every row is usable: a name, and a price that
is a number (“12.8”, “¥12.8”, “12.8元/斤”). Anything else raises InputError naming the rows,
so a bad export changes nothing and the next run tries again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import InputError

MAX_BYTES = 20 * 1024 * 1024
_PRICE = re.compile(r"^\s*[¥￥]?\s*(\d+(?:\.\d+)?)\s*(?:元|块)?\s*(?:/\s*\S+)?\s*$")


def fetch(source: str, *, timeout_s: float, transport: Any = None) -> tuple[bytes, str]:
    """The catalog's bytes and its kind ('csv', 'xlsx', 'xls' or 'json')."""
    if source.startswith(("http://", "https://")):
        return _download(source, timeout_s, transport)
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"catalog file {path} not found")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"catalog file {path.name} is larger than {MAX_BYTES >> 20} MB")
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("csv", "xlsx", "xls", "json"):
        raise InputError(f"catalog file {path.name}: use .csv, .xlsx, .xls or .json")
    return path.read_bytes(), kind


def _download(url: str, timeout_s: float, transport: Any) -> tuple[bytes, str]:
    import httpx

    # Every phase has a deadline: a hung ERP must not hold the job's thread.
    timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=True,
                          max_redirects=3, headers={"User-Agent": "alpha01-catalog"}) as http:
            with http.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise InputError(f"catalog URL answered HTTP {resp.status_code}")
                data = b""
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > MAX_BYTES:
                        raise InputError(f"catalog at {url} is larger than {MAX_BYTES >> 20} MB")
                ctype = resp.headers.get("content-type", "").lower()
    except httpx.TimeoutException as exc:
        raise InputError(f"catalog URL {url} did not answer within {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise InputError(f"catalog URL {url} is unreachable: {exc}") from exc
    if "json" in ctype or url.lower().split("?")[0].endswith(".json") or \
            data.lstrip()[:1] in (b"[", b"{"):
        return data, "json"
    return data, "csv"


def parse(data: bytes, kind: str) -> list[dict[str, str]]:
    """Rows as {column: text}, in order."""
    if kind == "json":
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"catalog is not valid JSON: {exc}") from exc
        if isinstance(doc, dict):
            doc = next((doc[k] for k in ("products", "items", "data", "rows")
                        if isinstance(doc.get(k), list)), None)
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise InputError("catalog JSON must be a list of objects (or {\"products\": [...]})")
        return [{str(k): "" if v is None else str(v).strip() for k, v in r.items()} for r in doc]
    from ..knowledge.sheets import read_sheet

    parsed = read_sheet(f".{kind}", data)
    rows = [dict(r.fields) for r in parsed.records if r.kind == "product"]
    if not rows:
        raise InputError("catalog has no product rows (expected columns 商品/名称 and 价格)")
    return rows


def validate(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Check every row; all good or InputError listing the problems (nothing is applied)."""
    from ..knowledge.sheets import NAME_HEADERS, PRICE_HEADERS, _find_column

    if not rows:
        raise InputError("catalog is empty")
    header = list(rows[0])
    name_col, price_col = _find_column(header, NAME_HEADERS), _find_column(header, PRICE_HEADERS)
    missing = [what for what, col in (("name (商品/名称/name)", name_col),
                                      ("price (价格/售价/price)", price_col)) if col is None]
    if missing:
        raise InputError(f"catalog is missing the {' and '.join(missing)} column; "
                         f"columns found: {', '.join(header)[:120]}")
    name_key, price_key = header[name_col], header[price_col]
    problems, seen = [], set()
    for n, row in enumerate(rows, 1):
        name, price = row.get(name_key, "").strip(), row.get(price_key, "").strip()
        if not name:
            problems.append(f"row {n}: no name")
        elif name in seen:
            problems.append(f"row {n}: {name} listed twice")
        seen.add(name)
        if not _PRICE.match(price):
            problems.append(f"row {n} ({name or '?'}): bad price {price!r}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputError("catalog not applied: " + "; ".join(problems[:5]) + more)
    return rows


def load_catalog(source: str, *, timeout_s: float = 15.0, transport: Any = None
                 ) -> list[dict[str, str]]:
    data, kind = fetch(source, timeout_s=timeout_s, transport=transport)
    return validate(parse(data, kind))
