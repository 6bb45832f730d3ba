"""The shop's knowledge base: ingest (formats → chunks), embed, store (LanceDB), search, FAQ.

The public API the pipeline, jobs, TUI and CLI use:

    from alpha01.knowledge import open_kb
    kb = open_kb(paths, settings.knowledge)

Importing this package imports numpy but neither lancedb nor the embedding model.
"""

from .embed import Embedder, HashEmbedder, Usem3Embedder
from .kb import FileResult, IngestReport, KnowledgeBase, open_kb

__all__ = ["Embedder", "FileResult", "HashEmbedder", "IngestReport", "KnowledgeBase",
           "Usem3Embedder", "open_kb"]
