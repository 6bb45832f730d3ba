"""A fake Zhipu chat API on 127.0.0.1, speaking the same HTTP and JSON as the real one.

Path `POST {base}/chat/completions` with a Bearer key; a JSON body with `model`, `messages`,
`stream`, `max_tokens`, `temperature`; replies are either one `chat.completion` JSON object or
server-sent events `data: {chunk}` ending with `data: [DONE]` (the shapes the zhipuai SDK parses
into `Completion` / `ChatCompletionChunk`, pinned by test_zhipu_contract.py).

Failure modes, set with `server.script(mode, ...)` (one per request, the last one repeats):
ok, hang, trickle, 429, 429-retry-after, 500, 503, malformed, drop.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BASE_PATH = "/api/paas/v4"
REPLY = "您好，我们周一至周五营业到21:30。"


def completion_json(text: str, model: str, prompt_tokens: int = 42) -> dict[str, Any]:
    return {
        "id": "fake-1", "request_id": "fake-req-1", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text),
                  "total_tokens": prompt_tokens + len(text)},
    }


def chunk_json(piece: str, model: str, *, finish: str | None = None,
               usage: dict[str, int] | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", "content": piece}}
    if finish:
        choice["finish_reason"] = finish
    out: dict[str, Any] = {"id": "fake-1", "created": int(time.time()), "model": model,
                           "choices": [choice]}
    if usage:
        out["usage"] = usage
    return out


class FakeZhipu:
    """Run with `with FakeZhipu() as server:`; `server.base_url` goes into the backend."""

    def __init__(self, reply: str = REPLY, piece_chars: int = 4) -> None:
        self.reply = reply
        self.piece_chars = piece_chars
        self.requests: list[dict[str, Any]] = []
        self.trickle_interval_s = 0.3
        self._modes: list[tuple[str, dict[str, Any]]] = [("ok", {})]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def script(self, *modes: str | tuple[str, dict[str, Any]]) -> FakeZhipu:
        with self._lock:
            self._modes = [(m, {}) if isinstance(m, str) else m for m in modes]
        return self

    def next_mode(self) -> tuple[str, dict[str, Any]]:
        with self._lock:
            return self._modes.pop(0) if len(self._modes) > 1 else self._modes[0]

    def __enter__(self) -> FakeZhipu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def wait(self, seconds: float) -> bool:
        """Sleep that ends early when the server stops (so hung handlers exit)."""
        return self._stop.wait(seconds)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a hanging/trickling handler is expected here


def _handler_for(fake: FakeZhipu) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            mode, opts = fake.next_mode()
            fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                  "body": body, "mode": mode, "at": time.monotonic()})
            if self.path != f"{BASE_PATH}/chat/completions":
                return self._json(404, {"error": {"code": "404", "message": "no such path"}})
            if not (self.headers.get("authorization") or "").startswith("Bearer "):
                return self._json(401, {"error": {"code": "1000", "message": "身份验证失败"}})
            model = body.get("model", "glm-4.7-flash")
            if mode == "hang":
                fake.wait(opts.get("seconds", 60))
                return self._close()
            if mode in ("429", "429-retry-after"):
                headers = {"Retry-After": str(opts.get("after", 2))} if mode != "429" else {}
                return self._json(429, {"error": {"code": "1302", "message": "并发数过高"}},
                                  headers)
            if mode in ("500", "503"):
                return self._json(int(mode), {"error": {"code": "500", "message": "内部错误"}})
            if not body.get("stream"):
                if mode == "malformed":
                    return self._send(200, b'{"choices": [ {"index": 0, ', "application/json")
                return self._json(200, completion_json(fake.reply, model))
            self._start_stream()
            pieces = [fake.reply[i:i + fake.piece_chars]
                      for i in range(0, len(fake.reply), fake.piece_chars)]
            if mode == "malformed":
                self._event(b'data: {"id": "x", "choices": [{"delta": \n\n')
                return self._end_stream()
            if mode == "drop":
                for piece in pieces[:2]:
                    self._event(_sse(chunk_json(piece, model)))
                return self._close()  # no terminating chunk, no [DONE]
            if mode == "trickle":
                # A slow server that never finishes within any sane deadline.
                for _ in range(opts.get("count", 200)):
                    if fake.wait(fake.trickle_interval_s):
                        return self._close()
                    if not self._event(_sse(chunk_json("嗯", model))):
                        return
                return self._end_stream()
            usage = {"prompt_tokens": 42, "completion_tokens": len(pieces),
                     "total_tokens": 42 + len(pieces)}
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                self._event(_sse(chunk_json(piece, model, finish="stop" if last else None,
                                            usage=usage if last else None)))
            self._event(b"data: [DONE]\n\n")
            self._end_stream()

        # -- helpers ----------------------------------------------------------------------

        def _json(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload, ensure_ascii=False).encode(),
                       "application/json", headers)

        def _send(self, status: int, data: bytes, ctype: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

        def _event(self, data: bytes) -> bool:
            try:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                return True
            except OSError:
                return False

        def _end_stream(self) -> None:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass

        def _close(self) -> None:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(2)
            except OSError:
                pass

    return Handler


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()
