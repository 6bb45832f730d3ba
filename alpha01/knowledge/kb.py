"""The knowledge base the rest of the app talks to: ingest, search, FAQ direct answers.

    kb = open_kb(paths, settings.knowledge)
    report = kb.add([Path("店铺资料")])          # per-file ok / skipped / error lines
    faq = kb.faq_match("几点关门")                # a Passage to return verbatim, or None
    passages = kb.search("绿茶能放多久", k=4)        # hybrid by default

Thread-safety: searches may run on the engine thread while an ingest runs on another. Writes
are serialised by a lock; parsing and embedding happen outside it, and each file's rows are
committed in one LanceDB commit, so a search sees each file either before or after.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import KnowledgeSettings
from ..domain import Passage
from ..errors import InputError, KnowledgeError
from ..intent import catalog_intent
from ..lexicon import Lexicon
from ..paths import Paths
from .chunking import assign_ids, chunk_blocks, stable_id
from .embed import Embedder
from .formats import (
    STREAM_EXTS,
    SUPPORTED,
    Block,
    Parsed,
    Record,
    load_bytes,
    parse_bytes,
    stream_text_blocks,
)
from .limits import Limits
from .search import (
    MODES,
    bigrams,
    full_text_query,
    fuse,
    normalise_query,
    query_bigrams,
    query_synonyms,
)
from .shopwords import derive
from .snapshot import MAX_ROWS, Snapshot, table_key
from .snapshot import load as load_snapshot
from .store import TEXT_COLUMNS, KBStore, sql_str

Progress = Callable[[str, int, int], None]  # (file name, done, total)
EMBED_STEP = 512  # texts embedded between two progress steps of a big file
CANDIDATES = 30  # rows fetched from each of the vector and full-text lists before fusion
# Query vectors kept: the retrieval stage asks faq_match and then search with the same
# question, and customers repeat the same short questions; 512 vectors are 1 MB.
QUERY_CACHE = 512


@dataclass
class FileResult:
    path: str
    source: str
    status: str  # ok | skipped | error
    detail: str = ""
    chunks: int = 0

    def line(self) -> str:
        if self.status == "ok":
            return f"ok       {self.path}: {self.detail or f'{self.chunks} chunks'}"
        if self.status == "skipped":
            return f"skipped  {self.path}: {self.detail}"
        return f"error    {self.path}: {self.detail}"


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "error"]

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def lines(self) -> list[str]:
        return [r.line() for r in self.results]

    def summary(self) -> str:
        return (f"{len(self.ok)} added, {len(self.skipped)} unchanged or skipped, "
                f"{len(self.errors)} failed ({self.seconds:.1f} s)")


def open_kb(paths: Paths, settings: KnowledgeSettings, embedder: Embedder | None = None,
            check_embedder: bool = True) -> KnowledgeBase:
    """Open (or lazily create) the knowledge base under `paths.kb`.

    Raises:
        KnowledgeError: the stored index was built by another embedder (run
            `alpha01 kb reindex`), or it cannot be read.
        BackendNotFound: `settings.embedder` names no registered embedder.
    """
    if embedder is None:
        from .. import registry

        embedder = registry.create("embedders", settings.embedder)
    return KnowledgeBase(paths.kb, settings, embedder, check_embedder=check_embedder,
                         owner_lexicon=paths.lexicon)


class KnowledgeBase:
    def __init__(self, root: Path, settings: KnowledgeSettings, embedder: Embedder,
                 check_embedder: bool = True, owner_lexicon: Path | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = KBStore(root, embedder.name, embedder.dim, check_embedder=check_embedder)
        self._write_lock = threading.Lock()
        self._faq_cache: tuple[int, list[dict], np.ndarray] | None = None
        # In-memory copy of the chunk table (snapshot.py), reloaded when the table changes.
        self._snapshot_cache: Snapshot | None = None
        self._snapshot_skipped: tuple[str, int] | None = None  # key of a table left in LanceDB
        self._snapshot_lock = threading.Lock()
        self.max_memory_rows = MAX_ROWS
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        self.chunk_chars = 450
        self.stream_segment_chars = 200_000  # a streamed file's text per embed-and-write step
        # Add everyday-word synonyms (lexicon.py) to the full-text query.
        self.expand_queries = True
        self.owner_lexicon = owner_lexicon
        self._lexicon_cache: tuple[tuple, Lexicon] | None = None

    # -- ingest ---------------------------------------------------------------------------

    def add(self, paths: Iterable[Path | str], progress: Progress | None = None) -> IngestReport:
        """Ingest files and folders (recursively). A file whose content is unchanged is
        skipped; a changed file's rows are replaced in one commit. A file that cannot be read
        gets an error line and the others still ingest."""
        started = time.perf_counter()
        report = IngestReport()
        files = self._expand([Path(p) for p in paths], report)
        known = {f["source"]: f for f in self.store.files()}
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        changed = False
        for done, (path, explicit) in enumerate(files):
            if progress:
                progress(path.name, done, len(files))
            def within(frac: float, name: str = path.name, done: int = done) -> None:
                if progress:  # a big file's embedding, step by step ("name 40%")
                    progress(f"{name} {frac:.0%}", done, len(files))

            result = self._add_one(path, explicit, known, max_bytes, within)
            report.results.append(result)
            changed |= result.status == "ok"
        if progress:
            progress("", len(files), len(files))
        if changed:
            with self._write_lock:
                self.store.optimize()
            if self._snapshot_cache is not None:  # searches are being served: reload now,
                self._snapshot()  # not during the next customer's question
        report.seconds = time.perf_counter() - started
        return report

    def _expand(self, paths: list[Path], report: IngestReport) -> list[tuple[Path, bool]]:
        out: list[tuple[Path, bool]] = []
        for path in paths:
            if path.is_dir():
                for root, dirs, names in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for name in sorted(names):
                        if name.startswith((".", "~$")):  # hidden and Office lock files
                            continue
                        out.append((Path(root) / name, False))
            else:
                out.append((path, True))
        return out

    def _add_one(self, path: Path, explicit: bool, known: dict[str, dict],
                 max_bytes: int, within: Callable[[float], None] | None = None) -> FileResult:
        source = _source_name(path, known)
        result = FileResult(str(path), source, "error")
        if path.suffix.lower() not in SUPPORTED and not explicit:
            result.status, result.detail = "skipped", f"not a supported type ({path.suffix})"
            return result
        try:
            if (path.suffix.lower() in STREAM_EXTS and _size(path)
                    > self.settings.stream_text_mb * 1024 * 1024):
                return self._add_streamed(path, source, known, max_bytes, result, within)
            data = load_bytes(path, max_bytes)
            sha = hashlib.sha256(data).hexdigest()
            old = known.get(source)
            if old and old["sha256"] == sha:
                result.status, result.detail = "skipped", "unchanged"
                return result
            parsed = parse_bytes(path.suffix, data, Limits.of(self.settings))
            rows = self._rows(source, sha, parsed, within)
        except InputError as exc:
            result.detail = str(exc)
            return result
        except KnowledgeError as exc:
            result.detail = str(exc)
            return result
        with self._write_lock:
            self.store.replace_source(source, rows)
            self.store.record_file({
                "source": source, "path": str(path.resolve()), "sha256": sha,
                "size": len(data), "kind": _kind_of(parsed), "chunks": len(rows),
                "added_at": time.time(),
            })
            self._faq_cache = None
        known[source] = {"sha256": sha, "path": str(path.resolve())}
        result.status, result.chunks = "ok", len(rows)
        note = f"{len(rows)} {_kind_of(parsed, plural=True)}"
        result.detail = f"{note} (replaced the previous version)" if old else note
        return result

    def _add_streamed(self, path: Path, source: str, known: dict[str, dict], max_bytes: int,
                      result: FileResult,
                      within: Callable[[float], None] | None = None) -> FileResult:
        """A big plain-text file in bounded memory: read, chunked, embedded and written to a
        staging table a segment at a time, then switched in with the rest of the knowledge
        base in one step (`KBStore.fill_staged`, `switch_to`). Until then searches see the file's old
        version; a failure or a kill midway leaves the old version and no part of the new.
        Raises InputError / KnowledgeError like `_add_one`'s other path."""
        size = _size(path)
        if size > max_bytes:
            raise InputError(f"file is {size / 2**20:.1f} MB, over the limit of "
                             f"{max_bytes / 2**20:g} MB (setting knowledge.max_file_mb)")
        sha = _file_sha(path)
        old = known.get(source)
        if old and old["sha256"] == sha:
            result.status, result.detail = "skipped", "unchanged"
            return result
        staged = self.store.stage()
        count = 0
        locked = False

        def parts():
            nonlocal count, locked
            for rows in self._stream_rows(path, source, sha, within):
                count += len(rows)
                yield rows
            if not count:
                raise InputError("no text found in file")
            # The other files' rows are copied last, under the write lock (held until the
            # switch), so a write landing on the old table meanwhile is not lost.
            self._write_lock.acquire()
            locked = True
            yield from self.store.other_rows(source)

        try:
            try:
                self.store.fill_staged(staged, parts())
                self.store.switch_to(staged)
                self.store.record_file({
                    "source": source, "path": str(path.resolve()), "sha256": sha,
                    "size": size, "kind": "document", "chunks": count,
                    "added_at": time.time(),
                })
                self._faq_cache = None
            finally:
                if locked:
                    self._write_lock.release()
        except BaseException:
            self.store.discard_staged(staged)
            raise
        known[source] = {"sha256": sha, "path": str(path.resolve())}
        result.status, result.chunks = "ok", count
        result.detail = f"{count} chunks" + (" (replaced the previous version)" if old else "")
        return result

    def _stream_rows(self, path: Path, source: str, sha: str,
                     within: Callable[[float], None] | None = None):
        """Rows of `path`, embedded, one list per segment. A heading open at a segment's end
        heads the next segment's text too."""
        headings: list[Block] = []  # the open heading path, outermost first
        chunk_seen: Counter[bytes] = Counter()
        position = 0
        for blocks, done, size in stream_text_blocks(path, self.stream_segment_chars):
            chunks = chunk_blocks(headings + blocks, self.chunk_chars)
            for b in blocks:
                if b.heading:
                    while headings and headings[-1].heading >= b.heading:
                        headings.pop()
                    headings.append(Block(b.text, b.heading, b.locator))
            rows: list[dict] = []
            ids = assign_ids(source, "chunk", [c.text for c in chunks], chunk_seen)
            for cid, c in zip(ids, chunks, strict=True):
                unit_ids = assign_ids(source, f"unit:{cid}", c.units)
                for uid, unit in zip(unit_ids, c.units, strict=True):
                    row = _row(uid, source, "chunk", c.text, unit, position + c.position,
                               c.locator, sha, {"headings": c.headings})
                    row["parent"] = cid
                    rows.append(row)
            position += len(chunks)
            self._embed_rows(rows)
            yield rows
            if within:
                within(min(1.0, done / max(size, 1)))

    def _rows(self, source: str, sha: str, parsed: Parsed,
              within: Callable[[float], None] | None = None) -> list[dict]:
        rows: list[dict] = []
        chunks = chunk_blocks(parsed.blocks, self.chunk_chars)
        ids = assign_ids(source, "chunk", [c.text for c in chunks])
        for cid, c in zip(ids, chunks, strict=True):
            unit_ids = assign_ids(source, f"unit:{cid}", c.units)
            for uid, unit in zip(unit_ids, c.units, strict=True):
                row = _row(uid, source, "chunk", c.text, unit, c.position, c.locator, sha,
                           {"headings": c.headings})
                row["parent"] = cid
                rows.append(row)
        records = parsed.records
        rec_ids = assign_ids(source, "record", [f"{r.kind}\x00{r.key}" for r in records])
        base = len(rows)
        for i, (rid, r) in enumerate(zip(rec_ids, records, strict=True)):
            rows.append(self._record_row(rid, source, r, base + i, sha))
        self._embed_rows(rows, within)
        return rows

    def _record_row(self, rid: str, source: str, r: Record, position: int, sha: str) -> dict:
        if r.kind == "faq":
            row = _row(rid, source, "faq", r.text, f"{r.question}\n{r.answer}", position,
                       r.locator, sha, {"fields": r.fields} if r.fields else {})
            row["question"], row["answer"] = r.question, r.answer
        else:
            # Indexed without the column labels (every row repeats them): the name and
            # values are what tells one product from another.
            values = " ".join(str(v) for v in r.fields.values() if str(v).strip())
            row = _row(rid, source, "product", r.text, values, position, r.locator, sha,
                       {"fields": r.fields, "name": r.key})
        return row

    def _embed_rows(self, rows: list[dict],
                    within: Callable[[float], None] | None = None) -> None:
        if not rows:
            return
        # An FAQ row's vector is its answer's: every customer message is question-shaped, so
        # embedding the question would make FAQ rows look close to everything. The question
        # has its own vector (qvector) for direct-answer matching.
        texts = [r["answer"] if r["kind"] == "faq" else r["search_text"] for r in rows]
        faq_idx = [i for i, r in enumerate(rows) if r["kind"] == "faq"]
        questions = [rows[i]["question"] for i in faq_idx]
        todo = texts + questions
        # In steps, so a big file shows its progress instead of nothing for minutes.
        step = EMBED_STEP if len(todo) > EMBED_STEP else len(todo)
        vectors = []
        for start in range(0, len(todo), step):
            vectors.extend(self.embedder.embed(todo[start:start + step]))
            if within and step < len(todo):
                within(min(1.0, (start + step) / len(todo)))
        for i, r in enumerate(rows):
            r["vector"] = vectors[i]  # float32 rows: a quarter of the memory of lists
        for j, i in enumerate(faq_idx):
            rows[i]["qvector"] = vectors[len(rows) + j]

    # -- direct writes (inbox, catalog sync) ------------------------------------------------

    def add_faq(self, question: str, answer: str, source: str = "inbox") -> Passage:
        """Add (or update, by question) one FAQ entry; searchable as soon as this returns."""
        question, answer = question.strip(), answer.strip()
        if not question or not answer:
            raise InputError("an FAQ entry needs both a question and an answer")
        rid = stable_id(source, "record", f"faq\x00{question}", 0)
        record = Record("faq", question, f"问：{question}\n答：{answer}", "inbox",
                        question=question, answer=answer)
        with self._write_lock:
            position = self.store.count()
            row = self._record_row(rid, source, record, position, "")
            self._embed_rows([row])
            self.store.upsert_rows([row])
            self._touch_manifest(source)
            self._faq_cache = None
        return Passage(row["text"], source, 1.0, "faq", question, answer, {"id": rid})

    def upsert_products(self, rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
        """Insert or update product records (keyed by product name within `source`).

        Returns the price changes: `{"name", "old_price", "new_price"}` for every product
        whose price column changed, with `old_price` None for a product not seen before.
        Products missing from `rows` are kept (use `remove([source])` to drop a catalog).
        """
        from .sheets import NAME_HEADERS, PRICE_HEADERS, _find_column, product_text

        if not rows:
            return []
        records: list[Record] = []
        for n, raw in enumerate(rows, 1):
            fields = {str(k): "" if v is None else str(v) for k, v in raw.items()}
            header = list(fields)
            name_col = _find_column(header, NAME_HEADERS)
            key = fields[header[name_col]] if name_col is not None else ""
            if not key:
                raise InputError(f"product row {n} has no name column (商品/名称/name)")
            records.append(Record("product", key, product_text(fields), f"sync row {n}",
                                  fields=fields))
        with self._write_lock:
            existing = {r["id"]: json.loads(r["meta"] or "{}") for r in self.store.rows(
                f"source = {sql_str(source)} AND kind = 'product'", ["id", "meta"])}
            out_rows, changes = [], []
            for n, rec in enumerate(records):
                rid = stable_id(source, "record", f"product\x00{rec.key}", 0)
                header = list(rec.fields)
                price_col = _find_column(header, PRICE_HEADERS)
                new_price = rec.fields[header[price_col]] if price_col is not None else None
                old_meta = existing.get(rid)
                old_price = None
                if old_meta is not None:
                    old_fields = old_meta.get("fields", {})
                    oc = _find_column(list(old_fields), PRICE_HEADERS)
                    old_price = old_fields[list(old_fields)[oc]] if oc is not None else None
                if old_meta is None or old_price != new_price:
                    changes.append({"name": rec.key, "old_price": old_price,
                                    "new_price": new_price})
                out_rows.append(self._record_row(rid, source, rec, n, ""))
            self._embed_rows(out_rows)
            self.store.upsert_rows(out_rows)
            self._touch_manifest(source)
        return changes

    def _touch_manifest(self, source: str) -> None:
        count = len(self.store.rows(f"source = {sql_str(source)}", ["id"]))
        self.store.record_file({"source": source, "path": "", "sha256": "", "size": 0,
                                "kind": "direct", "chunks": count, "added_at": time.time()})

    # -- remove, list, reindex --------------------------------------------------------------

    def remove(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """Drop files' rows by their name in the knowledge base, or by their path.
        Returns (removed, not_found)."""
        manifest = self.store.files()
        known = {f["source"] for f in manifest}
        by_path = {f["path"]: f["source"] for f in manifest if f["path"]}
        wanted = [n if n in known else by_path.get(_resolved(n), Path(n).name) for n in names]
        removed = [n for n in wanted if n in known]
        missing = [n for n in wanted if n not in known]
        with self._write_lock:
            self.store.delete_sources(removed)
            self._faq_cache = None
        return removed, missing

    def files(self) -> list[dict[str, Any]]:
        """The manifest: one dict per file (source, path, sha256, size, kind, chunks, added_at)."""
        return self.store.files()

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every stored row with the current embedder (after a change of embedder)
        and rebuild the indexes. Returns the number of rows."""
        with self._write_lock:
            rows = self.store.rows(columns=TEXT_COLUMNS)
            batch = 256
            for start in range(0, len(rows), batch):
                if progress:
                    progress("", start, len(rows))
                self._embed_rows(rows[start : start + batch])
            self.store.rebuild(rows, self.embedder.dim, self.embedder.name)
            self._faq_cache = None
            with self._query_lock:
                self._query_vectors.clear()
            if progress:
                progress("", len(rows), len(rows))
        return len(rows)

    def close(self) -> None:
        self.store = self.store  # LanceDB holds no open handles that need closing
        self._faq_cache = None
        self._snapshot_cache = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- search ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 4, mode: str = "hybrid") -> list[Passage]:
        """The best `k` passages for `query`, best first, scores in 0..1.

        mode: "vector" (embedding similarity), "fts" (n-gram full text, BM25 order) or
        "hybrid" (both, fused by reciprocal rank)."""
        if mode not in MODES:
            raise InputError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        query = normalise_query(query)
        table = self.store.chunks()
        if not query or table is None or k <= 0:
            return []
        depth = max(CANDIDATES, k)
        lexicon = self.lexicon
        vector_rows: list[dict] = []
        fts_rows: list[dict] = []
        try:
            snap = self._snapshot()

            def vector() -> list[dict]:
                qv = self.query_vector(query)
                if not np.any(qv):
                    return []
                if snap is not None:
                    return snap.nearest(qv, depth)
                return (table.search(qv, vector_column_name="vector")
                        .distance_type("cosine").select(TEXT_COLUMNS + ["_distance"])
                        .limit(depth).to_arrow().to_pylist())

            def full_text() -> list[dict]:
                text = full_text_query(query, self.expand_queries, lexicon)
                if not text:
                    return []
                # With a snapshot, only ids and scores come back from LanceDB: fetching and
                # converting 30 wide rows costs more than the full-text search itself.
                columns = ["id", "_score"] if snap is not None else TEXT_COLUMNS + ["_score"]
                rows = (table.search(text, query_type="fts", fts_columns="search_text")
                        .select(columns).limit(depth).to_arrow().to_pylist())
                return self._complete(snap, rows) if snap is not None else rows

            if mode == "hybrid":
                # Both searches at once: LanceDB and numpy release the GIL, so hybrid costs
                # about the slower of the two instead of their sum.
                pending = _search_pool().submit(full_text)
                vector_rows = vector()
                fts_rows = pending.result()
            elif mode == "vector":
                vector_rows = vector()
            else:
                fts_rows = full_text()
        except KnowledgeError:
            raise
        except Exception as exc:
            raise KnowledgeError(f"knowledge base search failed: {exc}") from exc
        hits = fuse(vector_rows, fts_rows, mode, query_bigrams(query),
                    getattr(self.embedder, "sim_low", 0.2),
                    getattr(self.embedder, "sim_high", 0.8),
                    prefer_kind="product" if catalog_intent(query) else None, query=query,
                    synonyms=query_synonyms(query, lexicon) if self.expand_queries else [])
        return [_passage(h.row, h.score, h.extra) for h in hits[:k]]

    def faq_match(self, query: str) -> Passage | None:
        """The FAQ entry whose question matches `query` closely enough to send its answer
        verbatim (score ≥ settings.faq_threshold), else None."""
        best = self.faq_candidates(query, 1)
        if best and best[0].score >= self.settings.faq_threshold:
            return best[0]
        return None

    def faq_candidates(self, query: str, k: int = 3) -> list[Passage]:
        """FAQ entries ranked by question similarity, with their match scores (0..1)."""
        query = normalise_query(query)
        if not query:
            return []
        rows, matrix = self._faq_index()
        if not rows:
            return []
        qv = self.query_vector(query)
        cosines = matrix @ qv
        qgrams = bigrams(query)
        scored = []
        for row, cos in zip(rows, cosines, strict=True):
            score, parts = faq_score(float(cos), qgrams, row["question"], self.embedder)
            scored.append((score, row, parts))
        scored.sort(key=lambda t: -t[0])
        return [_passage(row, score, parts) for score, row, parts in scored[:k]]

    @property
    def lexicon(self) -> Lexicon:
        """General vocabulary + the words derived from the shop's rows + the owner's
        lexicon.txt; rebuilt when the table or the owner's file changes."""
        snap = self._snapshot()
        owner = self.owner_lexicon
        try:
            stamp = owner.stat().st_mtime_ns if owner is not None else None
        except OSError:
            stamp = None
        key = (snap.key if snap is not None else None, stamp)
        cached = self._lexicon_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = snap.columns.select(["kind", "meta", "question", "answer", "text"]).to_pylist() \
            if snap is not None else []
        lexicon = Lexicon.general().merged(derive(rows))
        if stamp is not None and owner is not None:
            lexicon = lexicon.merged(Lexicon.from_owner_file(owner))
        self._lexicon_cache = (key, lexicon)
        return lexicon

    def products(self) -> list[tuple[str, dict[str, str]]]:
        """(name, columns) of every catalog row, in table order."""
        snap = self._snapshot()
        if snap is None:
            return []
        if "products" not in snap._cache:
            out = []
            for row in snap.columns.select(["kind", "meta"]).to_pylist():
                if row["kind"] != "product":
                    continue
                meta = json.loads(row["meta"] or "{}")
                fields = {str(k): str(v) for k, v in (meta.get("fields") or {}).items()}
                if meta.get("name"):
                    out.append((str(meta["name"]), fields))
            snap._cache["products"] = out
        return snap._cache["products"]

    def doc_count(self, word: str) -> int:
        """How many rows other than catalog rows mention `word` (how generic a word is in
        this shop's own writing)."""
        snap = self._snapshot()
        if snap is None:
            return 0
        if "doc_texts" not in snap._cache:
            texts: dict[str, str] = {}  # one text per passage (its search units repeat it)
            for row in snap.columns.select(["id", "parent", "kind", "text"]).to_pylist():
                if row["kind"] != "product":
                    texts.setdefault(row["parent"] or row["id"],
                                     unicodedata.normalize("NFKC", row["text"] or "").lower())
            snap._cache["doc_texts"] = list(texts.values())
        w = unicodedata.normalize("NFKC", word).lower()
        return sum(1 for t in snap._cache["doc_texts"] if w in t)

    def mentions(self, word: str) -> bool:
        """Whether the shop's data mentions `word` anywhere (not only in the passages a search
        returned): the guard asks before it calls a word of a reply a topic the shop never
        wrote about. False when the table is too large to hold in memory."""
        snap = self._snapshot()
        return snap is not None and snap.mentions(word)

    def query_vector(self, query: str) -> np.ndarray:
        """The embedding of a (normalised) query, from a small LRU cache: one embedding per
        customer question, however many lookups it goes through."""
        with self._query_lock:
            qv = self._query_vectors.get(query)
            if qv is not None:
                self._query_vectors.move_to_end(query)
                return qv
        qv = self.embedder.embed([query])[0]
        qv.setflags(write=False)  # shared by every caller
        with self._query_lock:
            self._query_vectors[query] = qv
            while len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        return qv

    def _snapshot(self) -> Snapshot | None:
        """The in-memory copy of the current chunk table (None: empty, or too large to
        copy), reloaded when the table has changed since it was read."""
        key = table_key(self.store)
        snap = self._snapshot_cache
        if snap is not None and snap.key == key:
            return snap
        if self._snapshot_skipped == key:
            return None
        with self._snapshot_lock:
            key = table_key(self.store)
            snap = self._snapshot_cache
            if snap is not None and snap.key == key:
                return snap
            snap = load_snapshot(self.store, self.embedder.dim, self.max_memory_rows)
            self._snapshot_cache = snap
            self._snapshot_skipped = None if snap is not None else key
            return snap

    def _complete(self, snap: Snapshot, rows: list[dict]) -> list[dict]:
        """Full rows for (id, _score) full-text results, from the snapshot; a row committed
        after the snapshot was read is fetched from LanceDB."""
        full = snap.take([r["id"] for r in rows])
        missing = [r["id"] for r, f in zip(rows, full, strict=True) if f is None]
        if missing:
            where = "id IN (" + ", ".join(sql_str(i) for i in missing) + ")"
            fetched = {r["id"]: r for r in self.store.rows(where, TEXT_COLUMNS)}
            full = [f if f is not None else fetched.get(r["id"])
                    for r, f in zip(rows, full, strict=True)]
        out = []
        for r, f in zip(rows, full, strict=True):
            if f is not None:  # None: deleted meanwhile
                f["_score"] = r["_score"]
                out.append(f)
        return out

    def _faq_index(self) -> tuple[list[dict], np.ndarray]:
        snap = self._snapshot()
        if snap is not None:
            return snap.faq_rows, snap.faq_matrix
        version = self.store.version()
        cache = self._faq_cache
        if cache is not None and cache[0] == version:
            return cache[1], cache[2]
        rows = self.store.rows("kind = 'faq'", TEXT_COLUMNS + ["qvector"])
        matrix = np.array([r.pop("qvector") for r in rows], dtype=np.float32).reshape(
            len(rows), self.embedder.dim)
        self._faq_cache = (version, rows, matrix)
        return rows, matrix


def faq_score(cosine: float, qgrams: set[str], question: str,
              embedder: Embedder) -> tuple[float, dict[str, float]]:
    """How surely a customer's message asks an FAQ's question, 0..1.

    The embedding similarity (calibrated per embedder) carries paraphrases; the character-
    bigram overlap (Dice) keeps a short but topically different message from matching on
    style alone."""
    low = getattr(embedder, "faq_low", 0.35)
    high = getattr(embedder, "faq_high", 0.75)
    semantic = float(np.clip((cosine - low) / (high - low), 0.0, 1.0))
    qb = bigrams(question)
    dice = 2 * len(qgrams & qb) / (len(qgrams) + len(qb)) if qgrams and qb else 0.0
    score = 0.75 * semantic + 0.25 * min(1.0, dice * 1.5)
    return score, {"cosine": round(cosine, 4), "dice": round(dice, 4)}


def _source_name(path: Path, known: dict[str, dict]) -> str:
    """The file's name in the knowledge base: its file name, unless another file of that name
    from another folder (still on disk) is there already; then as many parent folders as
    tell them apart."""
    where = str(path.resolve())
    parts = path.resolve().parts
    for depth in range(1, len(parts) + 1):
        name = "/".join(parts[-depth:]).lstrip("/")
        old = known.get(name)
        if old is None or old.get("path", "") in ("", where) or not Path(old["path"]).exists():
            return name
    return where


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the reading path says what is wrong


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _resolved(name: str) -> str:
    try:
        return str(Path(name).resolve())
    except OSError:
        return name


def _row(rid: str, source: str, kind: str, text: str, search_text: str, position: int,
         locator: str, sha: str, meta: dict) -> dict:
    return {"id": rid, "parent": rid, "source": source, "kind": kind, "text": text,
            "search_text": search_text, "question": None, "answer": None,
            "position": int(position), "locator": locator, "file_sha": sha,
            "meta": json.dumps(meta, ensure_ascii=False), "vector": None, "qvector": None}


def _passage(row: dict, score: float, extra: dict) -> Passage:
    meta = json.loads(row.get("meta") or "{}")
    meta.update(extra)
    meta.update(id=row.get("parent") or row["id"], locator=row.get("locator"),
                position=row.get("position"))
    return Passage(text=row["text"], source=row["source"], score=float(score),
                   kind=row["kind"], question=row.get("question"), answer=row.get("answer"),
                   meta=meta)


def _kind_of(parsed: Parsed, plural: bool = False) -> str:
    kinds = {r.kind for r in parsed.records}
    if parsed.blocks and not kinds:
        return "chunks" if plural else "document"
    if len(kinds) == 1 and not parsed.blocks:
        kind = kinds.pop()
        return {"faq": "FAQ entries", "product": "products"}[kind] if plural else kind
    return "rows" if plural else "mixed"


_POOL = None
_POOL_LOCK = threading.Lock()


def _search_pool():
    """One small shared thread pool for the full-text half of hybrid searches."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kb-search")
        return _POOL
