"""The cloud model: Zhipu GLM through the `zhipuai` SDK.

The SDK's defaults are not trusted (a 300 s timeout and 3 silent retries): this backend passes
its own timeout and `max_retries=0`, and the router owns retries and fallbacks. The call runs
in a worker thread and the caller waits only until its deadline, so a server that trickles
bytes forever cannot hold a reply past it; a late answer is discarded, never delivered.

`available()` is False without an API key or when settings say offline, and then nothing here
opens a socket (the SDK is not even imported).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..config import LLMSettings
from ..errors import LLMError, LLMTimeout, LLMUnavailable
from ..paths import Paths
from .base import ChatMessage, StreamingBackend

ENV_KEY = "ZHIPUAI_API_KEY"
DEFAULT_MODEL = "glm-4.7-flash"


class RateLimited(LLMError):
    """HTTP 429: the cloud asked us to slow down. `retry_after` is seconds, when it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ZhipuBackend(StreamingBackend):
    name = "zhipu"
    tier = "cloud"

    def __init__(
        self,
        settings: LLMSettings | None = None,
        paths: Paths | None = None,
        *,
        api_key: str | None = None,
        model: str | None = None,
        base_url: str | None = None,
        timeout_s: float | None = None,
        offline: bool | None = None,
        **_: Any,
    ) -> None:
        self.settings = settings or LLMSettings()
        self.api_key = api_key or self.settings.zhipu_api_key or os.environ.get(ENV_KEY, "")
        self.model = model or self.settings.zhipu_model or DEFAULT_MODEL
        self.base_url = base_url or self.settings.zhipu_base_url or None
        self.timeout_s = timeout_s if timeout_s is not None else self.settings.cloud_timeout_s
        self.offline = self.settings.offline if offline is None else offline
        self._client: Any = None
        self._client_lock = threading.Lock()

    def available(self) -> bool:
        return bool(self.api_key) and not self.offline

    def _get_client(self) -> Any:
        if not self.available():
            raise LLMUnavailable("cloud model is off: offline mode" if self.offline
                                 else f"cloud model has no API key (set {ENV_KEY})")
        with self._client_lock:
            if self._client is None:
                try:
                    from zhipuai import ZhipuAI
                except ImportError as exc:
                    raise LLMUnavailable("zhipuai is not installed (pip extra 'llm')") from exc
                self._client = ZhipuAI(api_key=self.api_key, base_url=self.base_url,
                                       timeout=self.timeout_s, max_retries=0)
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:
                    pass
                self._client = None

    # -- calls ------------------------------------------------------------------------------

    def model_label(self) -> str:
        return self.model or ""

    def _pieces(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        deadline: float | None,
        info: dict[str, Any],
    ) -> Iterator[str]:
        client = self._get_client()
        now = time.monotonic()
        if deadline is None:
            deadline = now + self.timeout_s
        if now >= deadline:
            raise LLMTimeout("deadline passed before the cloud call started")
        # The per-operation socket timeout never exceeds what is left of the deadline.
        io_timeout = max(0.05, min(self.timeout_s, deadline - now))
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancelled = threading.Event()
        holder: dict[str, Any] = {}

        def worker() -> None:
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=[dict(m) for m in messages],
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                    timeout=io_timeout,
                )
                holder["response"] = response
                for chunk in response:
                    if cancelled.is_set():
                        break
                    events.put(("chunk", chunk))
                events.put(("done", None))
            except BaseException as exc:  # handed to the caller's thread
                events.put(("error", exc))

        thread = threading.Thread(target=worker, name="zhipu-call", daemon=True)
        started = time.monotonic()
        thread.start()
        finished = False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LLMTimeout(f"cloud model passed its deadline ({self.model})")
                try:
                    kind, payload = events.get(timeout=left)
                except queue.Empty:
                    raise LLMTimeout(f"cloud model passed its deadline ({self.model})") from None
                if kind == "error":
                    raise translate(payload)
                if kind == "done":
                    finished = True
                    if "finish_reason" not in info:
                        raise LLMError("cloud stream ended without a finish reason (dropped)")
                    return
                piece = _take(payload, info)
                if piece:
                    info.setdefault("ttft_ms", (time.monotonic() - started) * 1000)
                    yield piece
        finally:
            if not finished:
                cancelled.set()
                _close_quietly(holder.get("response"))


def _take(chunk: Any, info: dict[str, Any]) -> str:
    """Record model/usage/finish from one ChatCompletionChunk; return its text."""
    if getattr(chunk, "model", None):
        info["model"] = chunk.model
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        info["tokens_in"] = getattr(usage, "prompt_tokens", 0) or 0
        info["tokens_out"] = getattr(usage, "completion_tokens", 0) or 0
    text = ""
    for choice in getattr(chunk, "choices", None) or []:
        delta = getattr(choice, "delta", None)
        if delta is not None and getattr(delta, "content", None):
            text += delta.content
        if getattr(choice, "finish_reason", None):
            info["finish_reason"] = choice.finish_reason
    if text and "tokens_out" not in info:
        info["_pieces"] = info.get("_pieces", 0) + 1
    return text


def _close_quietly(response: Any) -> None:
    raw = getattr(response, "response", None)
    try:
        if raw is not None:
            raw.close()
    except Exception:
        pass


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
    except Exception:
        return None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def translate(exc: BaseException) -> LLMError:
    """A zhipuai / httpx exception as one of ours (the message names the cause, not the key)."""
    if isinstance(exc, LLMError):
        return exc
    try:
        from zhipuai import core as z
    except ImportError:  # pragma: no cover - the SDK raised, so it is importable
        return LLMError(f"cloud model failed: {type(exc).__name__}")
    if isinstance(exc, z.APITimeoutError):
        return LLMTimeout("cloud model timed out")
    if isinstance(exc, z.APIStatusError):
        status = exc.status_code
        if status == 429:
            after = _retry_after(exc.response.headers)
            return RateLimited(f"cloud model rate-limited (429, retry after {after} s)", after)
        if status in (401, 403):
            return LLMUnavailable(f"cloud model refused the API key ({status})")
        return LLMError(f"cloud model returned HTTP {status}")
    if isinstance(exc, z.APIConnectionError):
        return LLMError("cannot reach the cloud model (connection failed)")
    if isinstance(exc, z.APIResponseError):
        return LLMError(f"cloud model sent a bad response: {exc.message}"[:200])
    if isinstance(exc, ValueError):  # malformed JSON in a stream event
        return LLMError(f"cloud model sent malformed data: {exc}"[:200])
    try:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeout("cloud model timed out")
        if isinstance(exc, httpx.HTTPError):
            return LLMError(f"cloud connection failed: {type(exc).__name__}")
    except ImportError:  # pragma: no cover
        pass
    return LLMError(f"cloud model failed: {type(exc).__name__}: {exc}"[:200])
