"""The local model: a GGUF file run in-process by llama-cpp-python.

`llama_cpp` is imported, and the model loaded, only on the first reply (or `load()`), so
importing this module costs nothing and `alpha01 --help` stays instant.

Speed on a small PC comes from three choices:
- `n_threads` = cores − 1, for generation and prompt evaluation alike: leaving a core free for
  the rest of the app, WeChat and the OS avoids the oversubscription that makes llama.cpp's
  spinning workers crawl (measured on the 2-core box under load: all cores for the prompt
  made a warm reply's first token 3-8 s late instead of ~1.2 s);
- the prompt's first message is byte-identical on every reply of a shop, and llama-cpp-python
  keeps the evaluated tokens of the last prompt: only the tokens after the common prefix
  (passages, history, the question) are evaluated again;
- generation streams, the deadline is checked between tokens and `max_tokens` caps the reply.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import LLMSettings
from ..errors import LLMError, LLMTimeout, LLMUnavailable
from ..paths import Paths
from .base import ChatMessage, StreamingBackend

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Cores − 1, at least 1 (cores as this process may use them)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def batch_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LlamaCppBackend(StreamingBackend):
    """A local GGUF model. One model per backend; calls are serialised (llama.cpp contexts
    are not thread-safe)."""

    name = "llamacpp"
    tier = "local"

    def __init__(
        self,
        settings: LLMSettings | None = None,
        paths: Paths | None = None,
        *,
        model_path: str | os.PathLike[str] | None = None,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        n_ctx: int | None = None,
        n_batch: int = 512,
        chat_format: str | None = None,
        seed: int = 1234,
        **_: Any,
    ) -> None:
        self.settings = settings or LLMSettings()
        self.paths = paths
        self._model_path = Path(model_path) if model_path else None
        configured = n_threads if n_threads is not None else self.settings.n_threads
        self.n_threads = configured or default_threads()
        self.n_threads_batch = n_threads_batch or self.n_threads
        self.n_ctx = n_ctx or self.settings.n_ctx
        self.n_batch = n_batch
        self.chat_format = chat_format
        self.seed = seed
        self.model_name = ""
        self.load_ms = 0.0
        self._llm: Any = None
        self._lock = threading.Lock()
        self._unavailable: str | None = None

    # -- discovery and loading --------------------------------------------------------------

    def model_file(self) -> Path:
        """The GGUF file this backend will load. Raises LLMUnavailable."""
        if self._model_path is not None:
            if not self._model_path.is_file():
                raise LLMUnavailable(f"model file {self._model_path} does not exist")
            return self._model_path
        from .models import discover

        found = discover(self.settings, self.paths)
        self._model_path = found.path
        return found.path

    def available(self) -> bool:
        if self._llm is not None:
            return True
        if importlib.util.find_spec("llama_cpp") is None:
            self._unavailable = "llama-cpp-python is not installed (pip extra 'llm')"
            return False
        try:
            self.model_file()
        except LLMError as exc:
            self._unavailable = str(exc)
            return False
        return True

    @property
    def unavailable_reason(self) -> str | None:
        return self._unavailable

    def load(self) -> None:
        """Load the model now (the first reply does it otherwise)."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._llm is not None:
            return self._llm
        path = self.model_file()
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMUnavailable("llama-cpp-python is not installed (pip extra 'llm')") from exc
        started = time.perf_counter()
        _route_native_logs(llama_cpp)
        try:
            # verbose=True only to stop the library from redirecting the process's stdout and
            # stderr file descriptors while it loads (verbose=False does that, and from a
            # worker thread it silences the TUI and every other thread for seconds). Its
            # Python-level chatter is captured here and the native log goes to `log`.
            with contextlib.redirect_stderr(io.StringIO()), \
                    contextlib.redirect_stdout(io.StringIO()):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads_batch,
                    n_batch=self.n_batch,
                    chat_format=self.chat_format,
                    seed=self.seed,
                    verbose=True,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailable(f"cannot load model {path.name}: {exc}") from exc
        llm.verbose = False  # no per-call timing prints
        if "tokenizer.chat_template" not in llm.metadata and self.chat_format is None:
            # A model without a template (a base model): use ChatML rather than the library's
            # llama-2 guess, so the prompt layout (and its cached prefix) stays the same.
            llm.chat_format = "chatml"
        self.load_ms = (time.perf_counter() - started) * 1000
        self.model_name = path.stem
        self._llm = llm
        log.info("loaded %s in %.0f ms (threads %d/%d, ctx %d)", path.name, self.load_ms,
                 self.n_threads, self.n_threads_batch, self.n_ctx)
        return llm

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                try:
                    self._llm.close()
                except Exception:  # closing must not raise
                    pass
                self._llm = None

    # -- generation -------------------------------------------------------------------------

    def model_label(self) -> str:
        return self.model_name or ""

    def _pieces(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        deadline: float | None,
        info: dict[str, Any],
    ) -> Iterator[str]:
        if deadline is not None and time.monotonic() >= deadline:
            raise LLMTimeout("deadline passed before the local model started")
        started = time.monotonic()
        if not self._lock.acquire(timeout=_wait(deadline)):
            raise LLMTimeout("the local model is busy with another reply")
        try:
            llm = self._ensure_loaded()
            try:
                chunks = llm.create_chat_completion(
                    messages=[dict(m) for m in messages],
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                )
                tokens_out = 0
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content") or ""
                    if choice.get("finish_reason"):
                        info["finish_reason"] = choice["finish_reason"]
                    if piece:
                        tokens_out += 1
                        if "ttft_ms" not in info:
                            info["ttft_ms"] = (time.monotonic() - started) * 1000
                        yield piece
                    if deadline is not None and time.monotonic() >= deadline:
                        chunks.close()
                        raise LLMTimeout(
                            f"local model passed its deadline after {tokens_out} tokens")
            except LLMError:
                raise
            except (ValueError, RuntimeError, OSError, KeyError) as exc:
                # e.g. the prompt is longer than n_ctx, or llama_decode failed
                raise LLMError(f"local model failed: {exc}") from exc
            info["tokens_out"] = tokens_out
            info["tokens_in"] = max(0, llm.n_tokens - tokens_out)
        finally:
            self._lock.release()


def _wait(deadline: float | None) -> float:
    if deadline is None:
        return -1
    return max(0.0, deadline - time.monotonic())



_NATIVE_LOG: Any = None


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's native log lines to our logger instead of the terminal (once)."""
    global _NATIVE_LOG
    if _NATIVE_LOG is not None:
        return

    @llama_cpp.llama_log_callback
    def _log(level: int, text: bytes, user_data: Any) -> None:
        if level in (2, 3):  # warn, error
            log.warning("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

    _NATIVE_LOG = _log  # keep the C callback alive
    llama_cpp.llama_log_set(_log, None)
