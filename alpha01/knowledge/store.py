"""LanceDB storage for the knowledge base. Everything lives under `paths.kb`:

- `kb.json`: schema version, the embedder identity and dimension, the current chunk table;
- table `chunks_<n>`: one row per search unit (a short section of a passage), FAQ entry or
  product, with the passage text, its vector(s) and an n-gram full-text index (works for Chinese without a word segmenter);
- table `files`: the manifest, one row per ingested file with its content hash.

A file's rows are replaced with one `merge_insert` commit (insert new ids, update kept ids,
delete the file's other ids), so a concurrent search sees the old or the new version of the
file, never a mix and never neither. `reindex` writes a fresh `chunks_<n+1>`, indexes it, then
points `kb.json` at it: searches keep using the old table until the switch.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import KnowledgeError

SCHEMA_VERSION = 1
MANIFEST = "files"
# Shown, embedded and indexed columns of a chunk row; "vector" and "qvector" come on top.
TEXT_COLUMNS = ["id", "parent", "source", "kind", "text", "search_text", "question", "answer",
                "position", "locator", "file_sha", "meta"]
FTS_COLUMN = "search_text"


def chunk_schema(dim: int):
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()),
        # The passage a row belongs to: rows are search units, several may share a passage.
        ("parent", pa.string()),
        ("source", pa.string()),
        ("kind", pa.string()),
        ("text", pa.string()),
        ("search_text", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("position", pa.int32()),
        ("locator", pa.string()),
        ("file_sha", pa.string()),
        ("meta", pa.string()),
        ("vector", pa.list_(pa.float32(), dim)),
        # The FAQ question alone, for direct-answer matching; null for other rows.
        ("qvector", pa.list_(pa.float32(), dim)),
    ])


def manifest_schema():
    import pyarrow as pa

    return pa.schema([
        ("source", pa.string()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("size", pa.int64()),
        ("kind", pa.string()),
        ("chunks", pa.int32()),
        ("added_at", pa.float64()),
    ])


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fts_config():
    from lancedb.index import FTS

    # Character 1- and 2-grams: single characters keep recall for one-character words
    # (桃, 橙, 退), bigrams carry most of the precision for Chinese. No stemming or stop words:
    # they are English-only notions here.
    return FTS(base_tokenizer="ngram", ngram_min_length=1, ngram_max_length=2,
               lower_case=True, stem=False, remove_stop_words=False, ascii_folding=True,
               max_token_length=40)


class KBStore:
    """The LanceDB side: tables, commits, raw queries. Knows nothing of files or embeddings."""

    def __init__(self, root: Path, embedder_name: str, dim: int, check_embedder: bool = True):
        self.root = root
        self.embedder_name = embedder_name
        self.dim = dim
        self._db = None
        self._chunks = None
        self._manifest = None
        self._lock = threading.RLock()
        self.meta = self._read_meta()
        if self.meta and check_embedder:
            built = self.meta.get("embedder")
            if built != embedder_name:
                raise KnowledgeError(
                    f"the knowledge base was built with embedder {built!r} but the settings "
                    f"ask for {embedder_name!r}; run `alpha01 kb reindex` to rebuild it"
                )
        if self.meta and self.meta.get("schema", 0) > SCHEMA_VERSION:
            raise KnowledgeError("the knowledge base was written by a newer alpha01; upgrade")

    # -- metadata -------------------------------------------------------------------------

    @property
    def meta_path(self) -> Path:
        return self.root / "kb.json"

    def _read_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self.meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise KnowledgeError(f"{self.meta_path} is unreadable: {exc}") from exc

    def _write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.meta_path)
        self.meta = meta

    @property
    def built_with(self) -> str | None:
        return self.meta.get("embedder")

    # -- connection -----------------------------------------------------------------------

    def _connect(self):
        if self._db is None:
            # Lance's native (Rust) logger writes WARN lines such as "No existing dataset …,
            # it will be created" straight to stderr; it reads its level once, at import.
            os.environ.setdefault("LANCEDB_LOG", "error")
            try:
                import lancedb
            except ImportError as exc:
                raise KnowledgeError(
                    "the knowledge base needs lancedb (pip install 'alpha01[kb]')") from exc
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self._db = lancedb.connect(str(self.root))
            except Exception as exc:
                raise KnowledgeError(f"cannot open the knowledge base at {self.root}: {exc}") from exc
        return self._db

    def _table_names(self) -> set[str]:
        db = self._connect()
        result = db.list_tables()
        names = getattr(result, "tables", result)
        return set(names)

    def chunks(self, create: bool = False):
        """The current chunk table, or None when the knowledge base is still empty."""
        if self._chunks is not None:
            return self._chunks
        with self._lock:
            if self._chunks is not None:
                return self._chunks
            name = self.meta.get("table")
            if name and name in self._table_names():
                self._chunks = self._connect().open_table(name)
            elif create:
                self._chunks = self._create_chunk_table(1)
                self._write_meta({"schema": SCHEMA_VERSION, "embedder": self.embedder_name,
                                  "dim": self.dim, "table": "chunks_1",
                                  "created": time.time()})
            return self._chunks

    def _create_chunk_table(self, generation: int, rows: list[dict] | None = None):
        db = self._connect()
        name = f"chunks_{generation}"
        table = db.create_table(name, schema=chunk_schema(self.dim), mode="overwrite")
        if rows:
            table.add(rows)
        table.create_index(FTS_COLUMN, config=_fts_config(), replace=True)
        return table

    def manifest(self):
        if self._manifest is None:
            with self._lock:
                if self._manifest is None:
                    db = self._connect()
                    if MANIFEST in self._table_names():
                        self._manifest = db.open_table(MANIFEST)
                    else:
                        self._manifest = db.create_table(MANIFEST, schema=manifest_schema())
        return self._manifest

    # -- writes ---------------------------------------------------------------------------

    def replace_source(self, source: str, rows: list[dict]) -> None:
        """Make `rows` the complete set of rows of `source`, in one commit."""
        table = self.chunks(create=True)
        if not rows:
            table.delete(f"source = {sql_str(source)}")
            return
        (table.merge_insert("id")
         .when_matched_update_all()
         .when_not_matched_insert_all()
         .when_not_matched_by_source_delete(f"source = {sql_str(source)}")
         .execute(rows))

    def upsert_rows(self, rows: list[dict]) -> None:
        """Insert or update rows by id, deleting nothing."""
        if rows:
            (self.chunks(create=True).merge_insert("id")
             .when_matched_update_all().when_not_matched_insert_all().execute(rows))

    def delete_sources(self, sources: list[str]) -> None:
        if not sources:
            return
        where = "source IN (" + ", ".join(sql_str(s) for s in sources) + ")"
        table = self.chunks()
        if table is not None:
            table.delete(where)
        self.manifest().delete(where)

    def record_file(self, entry: dict) -> None:
        (self.manifest().merge_insert("source")
         .when_matched_update_all().when_not_matched_insert_all().execute([entry]))

    def optimize(self) -> None:
        """Fold new rows into the indexes and compact small fragments."""
        table = self.chunks()
        if table is not None:
            table.optimize()

    # -- a big file, staged ----------------------------------------------------------------

    def stage(self):
        """A new, empty chunk table that searches do not see: a big file's rows are written
        into it (`fill_staged`), then `switch_to` makes it the current table in one step.
        It is named like the next generation, so a staging table left by a killed run is
        simply overwritten by the next one (or by reindex)."""
        with self._lock:
            old = self.meta.get("table")
            # chunks_1 is what a first write creates (`chunks(create=True)`), perhaps while
            # this file streams into an empty knowledge base: never stage under that name.
            generation = int(old.rsplit("_", 1)[1]) + 1 if old else 2
            return self._connect().create_table(f"chunks_{generation}",
                                                schema=chunk_schema(self.dim), mode="overwrite")

    def fill_staged(self, staged, parts) -> None:
        """Write everything `parts` yields (lists of row dicts, or pyarrow record batches)
        into `staged` as ONE append: a single commit of large fragments, pulled as the
        iterator produces them, so memory holds one part at a time and the table needs no
        compaction afterwards (compacting many small appends held most of the table in
        memory). An exception raised by `parts` is raised here as itself."""
        import pyarrow as pa

        schema = chunk_schema(self.dim)
        failed: list[BaseException] = []

        def batches():
            try:
                for part in parts:
                    if isinstance(part, list):
                        if part:
                            yield from pa.Table.from_pylist(part, schema=schema).to_batches()
                    elif part.num_rows:
                        yield from pa.Table.from_batches([part]).select(schema.names) \
                            .cast(schema).to_batches()
            except BaseException as exc:
                failed.append(exc)
                raise

        try:
            staged.add(pa.RecordBatchReader.from_batches(schema, batches()))
        except BaseException:
            if failed:
                raise failed[0] from None
            raise
        if failed:
            raise failed[0]

    def other_rows(self, source: str, batch_rows: int = 2048):
        """Every row of the current table except `source`'s, as record batches."""
        current = self.chunks()
        if current is None:
            return
        yield from (current.search().where(f"source != {sql_str(source)}").limit(None)
                    .select(TEXT_COLUMNS + ["vector", "qvector"]).to_batches(batch_rows))

    def switch_to(self, staged) -> None:
        """Index `staged` and make it the current chunk table: searches see the old table
        until the one atomic replace of kb.json, then the new one."""
        with self._lock:
            staged.create_index(FTS_COLUMN, config=_fts_config(), replace=True)
            old = self.meta.get("table")
            meta = dict(self.meta) or {"schema": SCHEMA_VERSION, "embedder": self.embedder_name,
                                       "dim": self.dim, "created": time.time()}
            meta["table"] = staged.name
            self._write_meta(meta)
            self._chunks = staged
            if old and old != staged.name:
                try:
                    self._connect().drop_table(old)
                except Exception:  # a reader on Windows may still hold it; harmless leftover
                    pass

    def discard_staged(self, staged) -> None:
        try:
            self._connect().drop_table(staged.name)
        except Exception:  # already gone; the next stage() overwrites it anyway
            pass

    def rebuild(self, rows: list[dict], dim: int, embedder_name: str) -> None:
        """Write all rows into a new chunk table and switch to it (used by reindex)."""
        with self._lock:
            old = self.meta.get("table")
            generation = int(old.rsplit("_", 1)[1]) + 1 if old else 1
            self.dim = dim
            self.embedder_name = embedder_name
            table = self._create_chunk_table(generation, rows)
            meta = dict(self.meta) or {"schema": SCHEMA_VERSION, "created": time.time()}
            meta.update(embedder=embedder_name, dim=dim, table=f"chunks_{generation}",
                        reindexed=time.time())
            self._write_meta(meta)
            self._chunks = table
            if old and old != meta["table"]:
                try:
                    self._connect().drop_table(old)
                except Exception:  # a reader on Windows may still hold it; harmless leftover
                    pass

    # -- reads ----------------------------------------------------------------------------

    def files(self) -> list[dict]:
        if not self.meta and not (self.root / f"{MANIFEST}.lance").exists():
            return []
        rows = self.manifest().to_arrow().to_pylist()
        return sorted(rows, key=lambda r: r["source"])

    def rows(self, where: str | None = None, columns: list[str] | None = None) -> list[dict]:
        table = self.chunks()
        if table is None:
            return []
        query = table.search().limit(None) if hasattr(table, "search") else None
        if where:
            query = query.where(where)
        if columns:
            query = query.select(columns)
        return query.to_arrow().to_pylist()

    def arrow(self, columns: list[str]):
        """These columns of every chunk row as one pyarrow Table (None when still empty)."""
        table = self.chunks()
        if table is None:
            return None
        return table.search().limit(None).select(columns).to_arrow()

    def count(self) -> int:
        table = self.chunks()
        return 0 if table is None else table.count_rows()

    def version(self) -> int:
        table = self.chunks()
        return 0 if table is None else table.version
