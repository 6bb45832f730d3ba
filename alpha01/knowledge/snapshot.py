"""An in-memory copy of the chunk table, for exact vector search and FAQ matching in numpy.

Without a vector index, a LanceDB vector query is a flat scan as well, but every call also
pays query planning, a read of the Lance files and the Arrow conversion of 30 wide rows:
30-50 ms at 10k rows, most of a hybrid search. A shop's table fits in memory (10k rows of
512 float32 are 20 MB) and one matrix-vector product over it takes 2-3 ms, with the same
ranking as the flat scan (both are exact cosine).

A snapshot is keyed by the table's name and version. Every commit (ingest, remove, FAQ edit,
catalog sync) bumps the version and `reindex` switches to a new table, so the next search
after a write loads a fresh copy: no write is ever missed, however it was made.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .embed import blas_threads
from .store import TEXT_COLUMNS, KBStore

# Above this many rows the copy would cost too much memory for a desktop app; searches then
# go to LanceDB directly (slower, same results).
MAX_ROWS = 200_000


@dataclass(frozen=True)
class Snapshot:
    key: tuple[str, int]  # (table name, version) the copy was read at
    columns: Any  # pyarrow.Table of TEXT_COLUMNS, row i ↔ vectors[i]
    vectors: np.ndarray  # (n, dim) float32, unit rows (all zero for an empty text)
    positions: dict[str, int]  # row id → row number
    faq_rows: list[dict]  # the FAQ rows (TEXT_COLUMNS), for question matching
    faq_matrix: np.ndarray  # (len(faq_rows), dim) their question vectors
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.positions)

    def nearest(self, query_vector: np.ndarray, depth: int) -> list[dict]:
        """The `depth` rows closest to `query_vector` by cosine, closest first, each with a
        `_distance` (1 - cosine) like a LanceDB cosine query returns."""
        n = self.vectors.shape[0]
        if n == 0 or depth <= 0:
            return []
        # One thread: a matrix-vector product is memory-bound, and a second BLAS thread
        # only adds waiting when the cores are busy.
        with blas_threads(1):
            cosines = self.vectors @ query_vector
        if depth < n:
            top = np.argpartition(-cosines, depth - 1)[:depth]
        else:
            top = np.arange(n)
        # Ties keep table order, so a search is repeatable.
        top = top[np.lexsort((top, -cosines[top]))]
        rows = self.columns.take(top).to_pylist()
        for row, i in zip(rows, top, strict=True):
            row["_distance"] = 1.0 - float(cosines[i])
        return rows

    def mentions(self, word: str) -> bool:
        """Whether any row's text contains `word` (compared after NFKC)."""
        if "text" not in self._cache:
            texts = self.columns.column("text").to_pylist()
            self._cache["text"] = unicodedata.normalize("NFKC", "\n".join(t or "" for t in texts))
        return unicodedata.normalize("NFKC", word) in self._cache["text"]

    def take(self, ids: list[str]) -> list[dict | None]:
        """The rows with these ids (None for an id the snapshot does not hold)."""
        found = [(k, self.positions[i]) for k, i in enumerate(ids) if i in self.positions]
        out: list[dict | None] = [None] * len(ids)
        if found:
            rows = self.columns.take([p for _, p in found]).to_pylist()
            for (k, _), row in zip(found, rows, strict=True):
                out[k] = row
        return out


def table_key(store: KBStore) -> tuple[str, int]:
    """What a snapshot of `store`'s current chunk table would be keyed by."""
    return (str(store.meta.get("table") or ""), store.version())


def load(store: KBStore, dim: int, max_rows: int = MAX_ROWS) -> Snapshot | None:
    """Read the whole chunk table into memory; None when it is empty or too large."""
    # The key is read before the rows: a commit landing in between makes the copy newer
    # than its key, which only costs one extra reload, never a stale copy.
    key = table_key(store)
    if store.count() > max_rows:
        return None
    table = store.arrow(TEXT_COLUMNS + ["vector", "qvector"])
    if table is None:
        return None
    n = table.num_rows
    vectors = _matrix(table.column("vector"), n, dim)
    # One chunk per column: taking rows from a table of many record batches costs ~7x more.
    columns = table.select(TEXT_COLUMNS).combine_chunks()
    ids = columns.column("id").to_pylist()
    kinds = columns.column("kind").to_pylist()
    faq_at = [i for i, kind in enumerate(kinds) if kind == "faq"]
    faq_rows: list[dict] = []
    faq_matrix = np.zeros((0, dim), dtype=np.float32)
    if faq_at:
        faq_rows = columns.take(faq_at).to_pylist()
        faq_matrix = _matrix(table.column("qvector").take(faq_at), len(faq_at), dim)
    return Snapshot(key, columns, vectors, {rid: i for i, rid in enumerate(ids)}, faq_rows,
                    faq_matrix)


def _matrix(column: Any, n: int, dim: int) -> np.ndarray:
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    column = column.combine_chunks()
    if column.null_count == 0:
        flat = column.flatten().to_numpy(zero_copy_only=False)
        return np.ascontiguousarray(flat.reshape(n, dim), dtype=np.float32)
    out = np.zeros((n, dim), dtype=np.float32)
    for i, v in enumerate(column.to_pylist()):
        if v is not None:
            out[i] = v
    return out
