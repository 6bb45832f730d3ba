"""A thin httpx client for the 微信客服 API (qyapi.weixin.qq.com/cgi-bin/…).

Only the calls the channel uses: gettoken, kf/sync_msg, kf/send_msg, kf/send_msg_on_event,
kf/service_state/get and /trans, kf/add_contact_way. Paths and body fields match wechatpy's
WeChatKF client (tests/wecom/test_contract.py holds the two side by side). Every request has a
deadline; nothing here retries except once after the access token was refused, because the
engine owns retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

DEFAULT_BASE = "https://qyapi.weixin.qq.com"

# errcodes (the global list of 企业微信 and the kf pages)
BUSY = -1  # 系统繁忙
TOKEN_INVALID = 40014  # 不合法的access_token
TOKEN_EXPIRED = 42001  # access_token已过期
SECRET_INVALID = 40001  # 不合法的secret参数
API_FREQ = 45009  # 接口调用超过限制
MSG_TOKEN_INVALID = 95007  # 不合法的msgtoken (sync_msg's callback token)
CURSOR_INVALID = 95000  # 非法参数: what a cursor the service never issued gets (see docs/wecom.md)
SESSION_STATE = 95018  # 发送消息失败：会话状态不允许（不在48小时内、或已由人工接待）
TOKEN_CODES = frozenset({TOKEN_INVALID, TOKEN_EXPIRED})
RETRY_LATER = frozenset({BUSY, API_FREQ})

# service_state values (kf/service_state/get)
STATE_NEW = 0  # 未处理
STATE_BOT = 1  # 由智能助手接待
STATE_POOL = 2  # 待接入池排队中
STATE_HUMAN = 3  # 由人工接待
STATE_ENDED = 4  # 已结束/未开始

# sync_msg origin values
ORIGIN_CUSTOMER = 3
ORIGIN_SYSTEM = 4
ORIGIN_SERVICER = 5


class WeComError(Exception):
    """The API answered with errcode != 0 (or not at all: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, path: str = "", *,
                 sent_maybe: bool = False) -> None:
        super().__init__(f"{path}: errcode {errcode}: {errmsg}" if path else errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        #: no answer after the request left: it may have been carried out
        self.sent_maybe = sent_maybe

    @property
    def retry_later(self) -> bool:
        return self.errcode is None or self.errcode in RETRY_LATER


class KfClient:
    """One corp's kf API with a cached access token (refreshed before it expires)."""

    #: seconds before expiry when a token counts as expired already
    EXPIRY_MARGIN_S = 300.0

    def __init__(self, corp_id: str, secret: str, *, base_url: str = DEFAULT_BASE,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.base_url = (base_url or DEFAULT_BASE).rstrip("/")
        self.clock = clock
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            transport=transport, trust_env=False)
        self._lock = threading.Lock()
        self._token = ""
        self._token_expires = 0.0
        self.token_fetches = 0

    # -- access token ---------------------------------------------------------------------------

    def access_token(self, *, refresh: bool = False) -> str:
        with self._lock:
            if refresh or not self._token or self.clock() >= self._token_expires:
                data = self._call("GET", "/cgi-bin/gettoken",
                                  params={"corpid": self.corp_id, "corpsecret": self.secret})
                self._token = str(data["access_token"])
                expires_in = float(data.get("expires_in", 7200))
                self._token_expires = self.clock() + max(0.0, expires_in - self.EXPIRY_MARGIN_S)
                self.token_fetches += 1
            return self._token

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self._http.request(method, self.base_url + path, params=params, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing left this PC
            raise WeComError(None, f"{type(exc).__name__}: {exc}", path) from exc
        except httpx.HTTPError as exc:
            raise WeComError(None, f"{type(exc).__name__}: {exc}", path,
                             sent_maybe=True) from exc
        if resp.status_code != 200:
            raise WeComError(None, f"HTTP {resp.status_code}", path)
        try:
            data = resp.json()
        except ValueError as exc:
            raise WeComError(None, "not JSON", path) from exc
        code = int(data.get("errcode", 0))
        if code != 0:
            raise WeComError(code, str(data.get("errmsg", "")), path)
        return data

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the access token; a refused token is fetched again once."""
        try:
            return self._call("POST", path, params={"access_token": self.access_token()},
                              body=body)
        except WeComError as exc:
            if exc.errcode not in TOKEN_CODES:
                raise
        return self._call("POST", path, params={"access_token": self.access_token(refresh=True)},
                          body=body)

    # -- the kf calls ---------------------------------------------------------------------------

    def sync_msg(self, *, cursor: str = "", token: str = "", open_kfid: str = "",
                 limit: int = 1000) -> dict[str, Any]:
        body: dict[str, Any] = {"cursor": cursor, "token": token, "limit": limit}
        if open_kfid:
            body["open_kfid"] = open_kfid
        return self.post("/cgi-bin/kf/sync_msg", body)

    def send_text(self, touser: str, open_kfid: str, content: str, *, msgid: str = "") -> str:
        body: dict[str, Any] = {"touser": touser, "open_kfid": open_kfid}
        if msgid:
            body["msgid"] = msgid
        body.update({"msgtype": "text", "text": {"content": content}})
        return str(self.post("/cgi-bin/kf/send_msg", body).get("msgid", ""))

    def send_text_on_event(self, code: str, content: str, *, msgid: str = "") -> str:
        body: dict[str, Any] = {"code": code, "msgtype": "text", "text": {"content": content}}
        if msgid:
            body["msgid"] = msgid
        return str(self.post("/cgi-bin/kf/send_msg_on_event", body).get("msgid", ""))

    def service_state(self, open_kfid: str, external_userid: str) -> int:
        data = self.post("/cgi-bin/kf/service_state/get",
                         {"open_kfid": open_kfid, "external_userid": external_userid})
        return int(data.get("service_state", STATE_NEW))

    def trans_service_state(self, open_kfid: str, external_userid: str, service_state: int,
                            servicer_userid: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"open_kfid": open_kfid, "external_userid": external_userid,
                                "service_state": service_state}
        if servicer_userid:
            body["servicer_userid"] = servicer_userid
        return self.post("/cgi-bin/kf/service_state/trans", body)

    def contact_url(self, open_kfid: str, scene: str = "") -> str:
        body: dict[str, Any] = {"open_kfid": open_kfid}
        if scene:
            body["scene"] = scene
        return str(self.post("/cgi-bin/kf/add_contact_way", body)["url"])

    def close(self) -> None:
        self._http.close()
