"""The local model: a GGUF file run in-process by llama-cpp-python.

`llama_cpp` is imported, and the model loaded, only on the first reply (or `load()`), so
importing this module costs nothing and `alpha01 --help` stays instant.

Speed on a small PC comes from these choices:
- the prompt (a new question's passages, ~450 tokens) and the reply run on every core while
  other programs leave them idle, and on `n_threads` = cores − 1 while another program is busy
  (then every core made it slower: 7.3 s against 6.7 s; earlier, under heavier load, 3-8 s
  late). `CpuMeter` looks just before each prompt. On the quiet 2-core box the prompt's first
  token came after 4.1 s instead of 7.7 s, and 60 tokens of reply took 1.5 s on two threads
  against 2.35 s on one (627-token prompt + 60 tokens: 5.2 s against 6.2 s);
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
from .cpuload import CpuMeter, usable_cores

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Cores − 1, at least 1 (cores as this process may use them)."""
    return max(1, usable_cores() - 1)


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
        batch = n_threads_batch if n_threads_batch is not None else self.settings.n_threads_batch
        # 0: the prompt runs on every core while other programs leave them idle, on
        # n_threads otherwise (chosen before each prompt, see cpuload.py)
        self.adaptive_batch = not batch
        self.n_threads_batch = batch or self.n_threads
        self._meter = CpuMeter() if self.adaptive_batch else None
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
            info["prompt_threads"] = self._choose_prompt_threads(llm)
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
            if self._meter is not None:
                self._meter.mark()
            self._lock.release()

    def _choose_prompt_threads(self, llm: Any) -> int:
        """Every core for the prompt and the reply when other programs leave them idle, else
        n_threads."""
        if self._meter is None:
            return self.n_threads_batch
        cores = usable_cores()
        others = self._meter.others_busy() if cores > self.n_threads else None
        wanted = self.n_threads
        if others is not None:
            wanted = max(self.n_threads, min(cores, int(cores - others + 0.5)))
        if wanted != self.n_threads_batch:
            try:
                llm._ctx.set_n_threads(wanted, wanted)
            except AttributeError:  # a llama-cpp-python without it: keep what it loaded with
                self._meter = None
                return self.n_threads_batch
            self.n_threads_batch = wanted
        return wanted


def _wait(deadline: float | None) -> float:
    if deadline is None:
        return -1
    return max(0.0, deadline - time.monotonic())



_NATIVE_LOG: Any = None
# ggml's `enum ggml_log_level` as compiled into llama-cpp-python 0.3.x wheels (include/ggml.h):
# NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5. Load chatter (INFO) stays out of the
# owner's log; warnings and errors reach it. (llama_cpp/_logger.py still carries the older
# numbering, where 2 was WARN: it would print every INFO line as a warning.)
_NATIVE_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.DEBUG,
                  3: logging.WARNING, 4: logging.ERROR}


def _route_native_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's native log lines to our logger instead of the terminal (once)."""
    global _NATIVE_LOG
    if _NATIVE_LOG is not None:
        return

    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def _log(level: int, text: bytes, user_data: Any) -> None:
        py_level = _NATIVE_LEVELS.get(level, last[0])  # CONT (5) continues the last line's
        last[0] = py_level
        line = text.decode("utf-8", "replace").rstrip()
        if line:
            log.log(py_level, "llama.cpp: %s", line)

    _NATIVE_LOG = _log  # keep the C callback alive
    llama_cpp.llama_log_set(_log, None)
