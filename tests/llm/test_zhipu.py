"""ZhipuBackend against a real HTTP server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import socket
import time

import pytest

from alpha01.config import LLMSettings
from alpha01.errors import LLMError, LLMTimeout, LLMUnavailable
from alpha01.llm.zhipu import RateLimited, ZhipuBackend

MESSAGES = [{"role": "system", "content": "你是客服。"}, {"role": "user", "content": "几点关门？"}]


def backend(server, **kw) -> ZhipuBackend:
    settings = LLMSettings(offline=False, zhipu_api_key="test-key", zhipu_base_url=server.base_url,
                           cloud_timeout_s=kw.pop("timeout_s", 5.0))
    return ZhipuBackend(settings, **kw)


def test_a_normal_streamed_reply(zhipu_server):
    c = backend(zhipu_server).complete(MESSAGES, max_tokens=64, deadline=time.monotonic() + 5)
    assert c.text == zhipu_server.reply
    assert c.served_by == "zhipu" and c.meta["tier"] == "cloud"
    assert c.tokens_in == 42 and c.tokens_out > 0 and c.model == "glm-4.7-flash"
    req = zhipu_server.requests[-1]
    assert req["path"] == "/api/paas/v4/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer test-key"
    assert req["body"]["model"] == "glm-4.7-flash" and req["body"]["stream"] is True
    assert req["body"]["max_tokens"] == 64 and req["body"]["messages"] == MESSAGES


def test_stream_yields_pieces(zhipu_server):
    pieces = list(backend(zhipu_server).stream(MESSAGES, deadline=time.monotonic() + 5))
    assert len(pieces) > 1 and "".join(pieces) == zhipu_server.reply


@pytest.mark.parametrize("mode,seconds", [("hang", 0.6), ("trickle", 0.8)])
def test_the_deadline_holds_against_hanging_and_trickling_servers(zhipu_server, mode, seconds):
    zhipu_server.script(mode)
    b = backend(zhipu_server, timeout_s=30.0)  # the socket timeout alone would be far too late
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        b.complete(MESSAGES, deadline=started + seconds)
    assert time.monotonic() - started < seconds + 0.3


@pytest.mark.parametrize("mode", ["429", "429-retry-after", "500", "503", "malformed", "drop"])
def test_failures_become_llm_errors_and_are_not_retried(zhipu_server, mode):
    zhipu_server.script(mode)
    with pytest.raises(LLMError) as info:
        backend(zhipu_server).complete(MESSAGES, deadline=time.monotonic() + 5)
    assert not isinstance(info.value, LLMTimeout)
    assert len(zhipu_server.requests) == 1  # max_retries=0: the SDK did not retry behind us


def test_429_reports_retry_after(zhipu_server):
    zhipu_server.script(("429-retry-after", {"after": 7}))
    with pytest.raises(RateLimited) as info:
        backend(zhipu_server).complete(MESSAGES, deadline=time.monotonic() + 5)
    assert info.value.retry_after == 7
    zhipu_server.script("429")
    with pytest.raises(RateLimited) as info:
        backend(zhipu_server).complete(MESSAGES, deadline=time.monotonic() + 5)
    assert info.value.retry_after is None


def test_a_refused_key_means_unavailable(zhipu_server):
    b = backend(zhipu_server)
    b.api_key = ""
    assert not b.available()
    with pytest.raises(LLMUnavailable):
        b.complete(MESSAGES)


def test_offline_or_keyless_opens_no_socket(monkeypatch):
    def no_sockets(*a, **kw):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", no_sockets)
    monkeypatch.setattr(socket, "create_connection", no_sockets)
    offline = ZhipuBackend(LLMSettings(offline=True, zhipu_api_key="k"))
    keyless = ZhipuBackend(LLMSettings(offline=False))
    for b in (offline, keyless):
        assert not b.available()
        with pytest.raises(LLMUnavailable):
            b.complete(MESSAGES, deadline=time.monotonic() + 1)
    assert offline._client is None and keyless._client is None


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv("ZHIPUAI_API_KEY", "env-key")
    b = ZhipuBackend(LLMSettings(offline=False))
    assert b.available() and b.api_key == "env-key" and b.model == "glm-4.7-flash"


def test_a_late_answer_is_discarded(zhipu_server):
    """After a timeout the abandoned call must not surface later as a second reply."""
    zhipu_server.script("trickle")
    b = backend(zhipu_server)
    with pytest.raises(LLMTimeout):
        b.complete(MESSAGES, deadline=time.monotonic() + 0.5)
    zhipu_server.script("ok")
    c = b.complete(MESSAGES, deadline=time.monotonic() + 5)
    assert c.text == zhipu_server.reply  # not polluted by the trickle's "嗯嗯嗯"
