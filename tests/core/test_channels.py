"""Channels declare what they can do beyond poll/send (`capabilities`); nothing is probed.

Every built-in channel implements exactly the optional protocols it declares: one it has but
does not declare would never be used by the engine, one it declares but lacks would break it.
"""

from __future__ import annotations

import io

import pytest

from alpha01 import registry
from alpha01.app import AppContext, build_engine
from alpha01.channels.base import PROTOCOLS, Capability, Channel
from alpha01.config import Settings
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever


def _make(name: str) -> Channel:
    cls = registry.load("channels", name)
    if name == "console":
        return cls(stdin=io.StringIO(""), stdout=io.StringIO())
    if name == "sim":
        return cls(script=[{"at": 0.0, "customer": "顾客", "text": "在吗"}], stdout=None)
    if name == "wechat":
        from alpha01.channels.wechat.fake_wx import FakeWeChat

        return cls(Settings(), lib=FakeWeChat().module)
    if name == "wecom":
        return cls(Settings().with_overrides(wecom={"corp_id": "ww0", "secret": "s",
                                                    "open_kfid": "wk0",
                                                    "base_url": "http://127.0.0.1:9"}))
    return cls(Settings()) if name == "web" else cls()


@pytest.mark.parametrize("name", sorted(registry.BUILTINS["channels"]))
def test_each_channel_implements_exactly_what_it_declares(name):
    ch = _make(name)
    assert isinstance(ch, Channel)
    for cap, proto in PROTOCOLS.items():
        assert (cap in ch.capabilities) == isinstance(ch, proto), (name, cap)
    assert set(PROTOCOLS) == set(Capability)


class _Waker(Channel):
    name = "waker"
    capabilities = frozenset({Capability.WAKE})

    def __init__(self) -> None:
        self.wake = None

    def set_wake(self, wake) -> None:
        self.wake = wake

    def poll(self):
        return []

    def send(self, out) -> None:
        pass


class _Undeclared(_Waker):
    name = "undeclared"
    capabilities = frozenset()


def test_the_engine_calls_a_capability_only_when_it_is_declared(tmp_path):
    waker, undeclared = _Waker(), _Undeclared()
    app = AppContext(paths=Paths(tmp_path / "h").ensure())
    engine = build_engine(app, channels=[waker, undeclared], llm=FakeLLM(),
                          retriever=MemoryRetriever([]))
    try:
        engine.start()
        assert waker.wake == engine.wake and undeclared.wake is None
    finally:
        engine.close()
        app.close()
