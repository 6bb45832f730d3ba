"""The shop's knowledge base: ingest (formats → chunks), embed, store (LanceDB), search, FAQ.

The public API the pipeline, jobs, TUI and CLI use:

    from alpha01.knowledge import open_kb
    kb = open_kb(paths, settings.knowledge)

The names below are loaded on first use, so importing a plain-text helper of this package
(`alpha01.knowledge.chunking`, which the answer pipeline uses) needs no numpy: a base install
without the `kb` extra still answers. Using `open_kb` or an embedder imports numpy, but neither
lancedb nor the embedding model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .embed import Embedder, HashEmbedder, Usem3Embedder
    from .kb import FileResult, IngestReport, KnowledgeBase, open_kb

_WHERE = {"Embedder": "embed", "HashEmbedder": "embed", "Usem3Embedder": "embed",
          "FileResult": "kb", "IngestReport": "kb", "KnowledgeBase": "kb", "open_kb": "kb"}

__all__ = ["Embedder", "FileResult", "HashEmbedder", "IngestReport", "KnowledgeBase",
           "Usem3Embedder", "open_kb"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
