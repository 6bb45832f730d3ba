"""A local stand-in for WeCom's kf API: HTTP on 127.0.0.1, for the tests and the demo.

It answers the paths the channel calls with the documented request and response shapes, and
enforces what the real service enforces so the channel's handling is exercised: access tokens
that expire (42001) or are unknown (40014), a wrong secret (40001), the API frequency limit
(45009), system busy (-1) on demand, cursors it never issued (CURSOR_INVALID), the reply window
(48 hours after the customer's last message, at most 5 messages) and sends to a chat a human
agent has taken (95018). A repeated send `msgid` is the same message, sent once.

Run it alone for the demo: `python -m alpha01.channels.wecom.fake --port 8790`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .client import (
    API_FREQ,
    BUSY,
    CURSOR_INVALID,
    ORIGIN_CUSTOMER,
    ORIGIN_SERVICER,
    SECRET_INVALID,
    SESSION_STATE,
    STATE_BOT,
    STATE_ENDED,
    STATE_HUMAN,
    STATE_NEW,
    STATE_POOL,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
)

WINDOW_S = 48 * 3600.0
WINDOW_MAX = 5


@dataclass
class Customer:
    external_userid: str
    last_wrote: float = 0.0
    sent_since: int = 0
    state: int = STATE_NEW
    servicer: str = ""
    received: list[str] = field(default_factory=list)  # texts the customer saw, in order


class FakeWeCom:
    """The service's state; `serve()` puts it on a loopback port."""

    def __init__(self, *, corp_id: str = "wwfakecorp", secret: str = "fake-secret",
                 open_kfid: str = "wkFAKE0001", token_ttl_s: float = 7200.0,
                 untokened_per_min: int = 60) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.open_kfid = open_kfid
        self.token_ttl_s = token_ttl_s
        self.untokened_per_min = untokened_per_min
        self.offset = 0.0  # added to the wall clock: tests move time forward
        self.lock = threading.RLock()
        self.tokens: dict[str, float] = {}  # access token -> expires at
        self.messages: list[dict[str, Any]] = []
        self.customers: dict[str, Customer] = {}
        self.sent: dict[str, dict[str, Any]] = {}  # msgid -> the send
        self.failures: list[tuple[str, int]] = []  # (path suffix, errcode) answered next
        self.drop_after_send = 0  # sends that go out but whose answer is lost
        self.send_delay_s = 0.0  # how long the answer to a send takes (after it went out)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.codes: list[int] = []  # the errcode of every answer, in order
        self.sync_times: list[float] = []
        self.token_fetches = 0
        self._epoch = secrets.token_hex(4)
        self.server: ThreadingHTTPServer | None = None

    # -- scripting --------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.offset

    def customer_writes(self, external_userid: str, text: str) -> str:
        with self.lock:
            c = self.customers.setdefault(external_userid, Customer(external_userid))
            c.last_wrote, c.sent_since = self.now(), 0
            if c.state == STATE_ENDED:
                c.state = STATE_NEW
            return self._add(external_userid, ORIGIN_CUSTOMER, text)

    def servicer_writes(self, external_userid: str, text: str, userid: str = "owner") -> str:
        with self.lock:
            return self._add(external_userid, ORIGIN_SERVICER, text, servicer=userid)

    def _add(self, external_userid: str, origin: int, text: str, **extra: Any) -> str:
        msgid = f"m{self._epoch}{len(self.messages) + 1:06d}"
        msg = {"msgid": msgid, "open_kfid": self.open_kfid, "external_userid": external_userid,
               "send_time": int(self.now()), "origin": origin, "msgtype": "text",
               "text": {"content": text}}
        if extra.get("servicer"):
            msg["servicer_userid"] = extra["servicer"]
        self.messages.append(msg)
        return msgid

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        with self.lock:
            self.failures.extend([(path, errcode)] * times)

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def received(self, external_userid: str) -> list[str]:
        with self.lock:
            c = self.customers.get(external_userid)
            return list(c.received) if c else []

    # -- HTTP ---------------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._answer(None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
                self._answer(body if isinstance(body, dict) else {"_bad_json": True})

            def _answer(self, body: dict[str, Any] | None) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                data, drop = fake.handle(url.path, query, body)
                if drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                out = json.dumps(data, ensure_ascii=False).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller is gone (killed mid-request): what it asked for stands

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="fake-wecom",
                         daemon=True).start()
        return f"http://{host}:{self.server.server_address[1]}"

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # -- the API ------------------------------------------------------------------------------------

    def handle(self, path: str, query: dict[str, str],
               body: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        with self.lock:
            self.calls.append((path, dict(body or {})))
            data, drop = self._handle(path, query, body)
            self.codes.append(int(data.get("errcode", 0)))
        if self.send_delay_s and path.endswith("/kf/send_msg"):
            time.sleep(self.send_delay_s)  # sent, the answer is slow: a crash lands in between
        return data, drop

    def _handle(self, path: str, query: dict[str, str],
                body: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        with self.lock:
            for i, (suffix, code) in enumerate(self.failures):
                if path.endswith(suffix):
                    del self.failures[i]
                    return _err(code, "injected"), False
            if path == "/cgi-bin/gettoken":
                return self._gettoken(query), False
            token = query.get("access_token", "")
            if token not in self.tokens:
                return _err(TOKEN_INVALID, "invalid access_token"), False
            if self.tokens[token] <= self.now():
                return _err(TOKEN_EXPIRED, "access_token expired"), False
            if body is None or body.get("_bad_json"):
                return _err(47001, "data format error"), False
            route = {"/cgi-bin/kf/sync_msg": self._sync_msg,
                     "/cgi-bin/kf/send_msg": self._send_msg,
                     "/cgi-bin/kf/send_msg_on_event": self._send_on_event,
                     "/cgi-bin/kf/service_state/get": self._state_get,
                     "/cgi-bin/kf/service_state/trans": self._state_trans,
                     "/cgi-bin/kf/add_contact_way": self._contact_way}.get(path)
            if route is None:
                return _err(BUSY, f"no such path {path}"), False
            return route(body)

    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("corpid") != self.corp_id or query.get("corpsecret") != self.secret:
            return _err(SECRET_INVALID, "invalid credential")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self.now() + self.token_ttl_s
        self.token_fetches += 1
        return {"errcode": 0, "errmsg": "ok", "access_token": token,
                "expires_in": int(self.token_ttl_s)}

    def _sync_msg(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if not body.get("token"):
            now = self.now()
            self.sync_times = [t for t in self.sync_times if now - t < 60] + [now]
            if len(self.sync_times) > self.untokened_per_min:
                return _err(API_FREQ, "api freq out of limit"), False
        cursor = str(body.get("cursor") or "")
        start = 0
        if cursor:
            epoch, _, pos = cursor.partition("-")
            if epoch != self._epoch or not pos.isdigit() or int(pos) > len(self.messages):
                return _err(CURSOR_INVALID, "invalid cursor"), False
            start = int(pos)
        limit = max(1, min(1000, int(body.get("limit") or 1000)))
        batch = self.messages[start:start + limit]
        end = start + len(batch)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": f"{self._epoch}-{end}",
                "has_more": int(end < len(self.messages)), "msg_list": batch}, False

    def _send_msg(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        msgid = str(body.get("msgid") or "") or f"s{len(self.sent) + 1:08d}"
        if msgid in self.sent:  # the same message again: sent once
            return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, False
        c = self.customers.get(str(body.get("touser", "")))
        if c is None or body.get("open_kfid") != self.open_kfid:
            return _err(40003, "invalid touser or open_kfid"), False
        if body.get("msgtype") != "text" or not (body.get("text") or {}).get("content"):
            return _err(40008, "invalid message type"), False
        if c.state not in (STATE_NEW, STATE_BOT):
            return _err(SESSION_STATE, "send msg session status invalid"), False
        if self.now() - c.last_wrote > WINDOW_S or c.sent_since >= WINDOW_MAX:
            return _err(SESSION_STATE, "send msg session status invalid"), False
        c.sent_since += 1
        c.received.append(body["text"]["content"])
        self.sent[msgid] = body
        if self.drop_after_send:
            self.drop_after_send -= 1
            return {}, True
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, False

    def _send_on_event(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        # the code comes with an enter_session event and is good once; the fake takes any
        if not body.get("code") or body.get("msgtype") not in ("text", "msgmenu"):
            return _err(40008, "invalid code or message type"), False
        return {"errcode": 0, "errmsg": "ok",
                "msgid": str(body.get("msgid") or f"e{len(self.calls):08d}")}, False

    def _state_get(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        c = self.customers.get(str(body.get("external_userid", "")))
        if c is None:
            return _err(40003, "invalid external_userid"), False
        out = {"errcode": 0, "errmsg": "ok", "service_state": c.state}
        if c.servicer:
            out["servicer_userid"] = c.servicer
        return out, False

    def _state_trans(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        c = self.customers.get(str(body.get("external_userid", "")))
        if c is None:
            return _err(40003, "invalid external_userid"), False
        state = int(body.get("service_state", -1))
        if state not in (STATE_BOT, STATE_POOL, STATE_HUMAN, STATE_ENDED):
            return _err(95016, "invalid state change"), False
        if state == STATE_HUMAN and not body.get("servicer_userid"):
            return _err(95016, "servicer_userid required"), False
        c.state, c.servicer = state, str(body.get("servicer_userid") or "")
        return {"errcode": 0, "errmsg": "ok"}, False

    def _contact_way(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if body.get("open_kfid") != self.open_kfid:
            return _err(95004, "open_kfid not found"), False
        scene = f"?scene={body['scene']}" if body.get("scene") else ""
        return {"errcode": 0, "errmsg": "ok",
                "url": f"https://work.weixin.qq.com/kfid/{self.open_kfid}{scene}"}, False


def _err(code: int, msg: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": msg}


def main(argv: list[str] | None = None) -> None:
    """Serve a fake with a customer who writes now and then (the demo)."""
    parser = argparse.ArgumentParser(prog="python -m alpha01.channels.wecom.fake")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--every", type=float, default=8.0, help="seconds between questions")
    args = parser.parse_args(argv)
    fake = FakeWeCom()
    url = fake.serve(port=args.port)
    print(f"fake WeCom at {url}  corp_id={fake.corp_id} secret={fake.secret} "
          f"open_kfid={fake.open_kfid}", flush=True)
    questions = ["你好，请问几点开门？", "可以开发票吗？", "可以送货上门吗？", "转人工"]
    n = 0
    try:
        while True:
            time.sleep(args.every)
            fake.customer_writes(f"wmDEMO{n % 2}", questions[n % len(questions)])
            n += 1
    except KeyboardInterrupt:
        fake.close()


if __name__ == "__main__":
    main()
