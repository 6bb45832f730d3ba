"""LLMRouter: policies, fallback, deadline, circuit breaker, and exactly one reply."""

from __future__ import annotations

import time

import pytest

from alpha01 import registry
from alpha01.config import LLMSettings
from alpha01.errors import LLMError, LLMTimeout, LLMUnavailable
from alpha01.llm.fake import FakeLLM
from alpha01.llm.router import CircuitBreaker, LLMRouter
from alpha01.llm.zhipu import ZhipuBackend

MESSAGES = [{"role": "system", "content": "你是客服。"}, {"role": "user", "content": "几点关门？"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def router(policy="local-first", *, local=None, cloud=None, **kw) -> LLMRouter:
    local = local or FakeLLM("本地回答", tier="local")
    local.name = "local-fake"
    cloud = cloud or FakeLLM("云端回答", tier="cloud")
    cloud.name = "cloud-fake"
    return LLMRouter(LLMSettings(policy=policy), local=local, cloud=cloud, **kw)


@pytest.mark.parametrize("policy,served", [("local-first", "local-fake"),
                                           ("cloud-first", "cloud-fake"),
                                           ("local-only", "local-fake"),
                                           ("cloud-only", "cloud-fake")])
def test_policies_pick_their_first_backend(policy, served):
    c = router(policy).complete(MESSAGES)
    assert c.served_by == served
    assert c.meta["tier"] == ("local" if served == "local-fake" else "cloud")
    assert c.meta["fallback"] is False and c.meta["policy"] == policy


def test_falls_back_to_cloud_when_local_fails_or_is_unavailable():
    r = router()
    r.local.enqueue(LLMError("boom"))
    c = r.complete(MESSAGES)
    assert c.served_by == "cloud-fake" and c.meta["fallback"] is True
    assert [a["outcome"] for a in c.meta["route"]] == ["error", "ok"]
    r.local.is_available = False
    c = r.complete(MESSAGES)
    assert c.served_by == "cloud-fake"
    assert len(r.local.history) == 1  # an unavailable backend is not even called


def test_local_only_never_touches_the_cloud():
    r = router("local-only")
    r.local.enqueue(LLMError("boom"))
    with pytest.raises(LLMError):
        r.complete(MESSAGES)
    assert r.cloud.history == []


def test_nothing_available_is_llm_unavailable():
    r = router()
    r.local.is_available = False
    r.cloud.is_available = False
    with pytest.raises(LLMUnavailable) as info:
        r.complete(MESSAGES)
    assert "local-fake" in str(info.value) and "cloud-fake" in str(info.value)


def test_slow_local_leaves_time_for_the_cloud():
    slow = FakeLLM("太慢了", delay_s=5.0)
    r = router(local=slow, reply_deadline_s=1.0)
    r.settings.cloud_timeout_s = 0.4
    started = time.monotonic()
    c = r.complete(MESSAGES)
    assert c.served_by == "cloud-fake"
    assert time.monotonic() - started < 1.0
    assert c.meta["route"][0]["outcome"] == "timeout"


def test_the_overall_deadline_holds():
    r = router(local=FakeLLM(delay_s=5.0), cloud=FakeLLM(delay_s=5.0, tier="cloud"),
               reply_deadline_s=0.6)
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        r.complete(MESSAGES)
    assert time.monotonic() - started < 0.8


def test_caller_deadline_is_respected_too():
    r = router(local=FakeLLM(delay_s=5.0), cloud=FakeLLM(delay_s=5.0, tier="cloud"))
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        r.complete(MESSAGES, deadline=started + 0.4)
    assert time.monotonic() - started < 0.6


def test_circuit_opens_after_failures_then_half_opens_and_closes():
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown_s=30, clock=clock)
    r = router("cloud-first", breaker=breaker)
    r.cloud.enqueue(LLMError("500"), LLMError("500"))
    assert r.complete(MESSAGES).served_by == "local-fake"
    assert breaker.state == "closed"
    assert r.complete(MESSAGES).served_by == "local-fake"
    assert breaker.state == "open"
    calls = len(r.cloud.history)
    c = r.complete(MESSAGES)  # open: the cloud is not called at all
    assert c.served_by == "local-fake" and len(r.cloud.history) == calls
    assert c.meta["route"][0]["outcome"] == "circuit-open"
    clock.now += 31
    assert breaker.state == "half-open"
    r.cloud.enqueue(LLMError("still down"))
    assert r.complete(MESSAGES).served_by == "local-fake"  # the trial failed
    assert breaker.state == "open"
    clock.now += 31
    assert r.complete(MESSAGES).served_by == "cloud-fake"  # the trial succeeded
    assert breaker.state == "closed"


def test_only_one_trial_in_half_open():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=10, clock=clock)
    breaker.failure()
    clock.now += 11
    assert breaker.allow() is True
    assert breaker.allow() is False
    breaker.success()
    assert breaker.allow() is True


def test_retry_after_keeps_the_circuit_open_that_long():
    clock = Clock()
    breaker = CircuitBreaker(threshold=5, cooldown_s=10, clock=clock)
    breaker.failure(retry_after=60)
    assert breaker.state == "open"
    clock.now += 30
    assert breaker.state == "open"
    clock.now += 31
    assert breaker.state == "half-open"


def test_one_reply_only_when_the_cloud_trickles_after_local_failed(zhipu_server):
    """Local fails, the cloud trickles past the deadline: one error, no reply, and the late
    cloud bytes never become a reply; the next message gets exactly one reply."""
    zhipu_server.script("trickle", "ok")
    settings = LLMSettings(offline=False, zhipu_api_key="k", zhipu_base_url=zhipu_server.base_url,
                           cloud_timeout_s=0.5, reply_deadline_s=1.0)
    local = FakeLLM()
    local.enqueue(LLMError("local broke"), LLMError("local broke"))
    r = LLMRouter(settings, local=local, cloud=ZhipuBackend(settings))
    replies = []
    with pytest.raises(LLMTimeout):
        replies.append(r.complete(MESSAGES))
    replies.append(r.complete(MESSAGES))
    assert len(replies) == 1 and replies[0].served_by == "zhipu"
    assert replies[0].text == zhipu_server.reply


@pytest.mark.parametrize("mode", ["hang", "429", "500", "malformed", "drop"])
def test_router_falls_back_to_local_on_every_cloud_failure(zhipu_server, mode):
    zhipu_server.script(mode)
    settings = LLMSettings(policy="cloud-first", offline=False, zhipu_api_key="k",
                           zhipu_base_url=zhipu_server.base_url, cloud_timeout_s=0.5,
                           reply_deadline_s=3.0)
    r = LLMRouter(settings, local=FakeLLM("本地回答"), cloud=ZhipuBackend(settings))
    started = time.monotonic()
    c = r.complete(MESSAGES)
    assert c.served_by == "fake" and c.text == "本地回答" and c.meta["fallback"] is True
    assert time.monotonic() - started < 1.5


def test_stream_falls_back_only_before_the_first_piece():
    class Breaks(FakeLLM):
        def stream(self, messages, **kw):
            yield "一半"
            raise LLMError("cut")

    r = router(local=Breaks())
    got = []
    with pytest.raises(LLMError):
        for piece in r.stream(MESSAGES):
            got.append(piece)
    assert got == ["一半"] and r.cloud.history == []  # no second, different reply
    r2 = router()
    r2.local.is_available = False
    assert "".join(r2.stream(MESSAGES)) == "云端回答"


def _route(r: LLMRouter) -> list[tuple[str, str]]:
    return [(a.backend, a.outcome) for a in r.last_trace.attempts]


@pytest.mark.parametrize("how", ["complete", "stream"])
def test_stream_and_complete_record_the_same_route(how):
    """One fallback loop: a timeout is a timeout (not an error), each call has its latency,
    and a backend left when the deadline has passed is recorded as skipped."""
    def call(r):
        if how == "complete":
            return r.complete(MESSAGES).text
        return "".join(r.stream(MESSAGES))

    slow = FakeLLM("太慢了", delay_s=5.0)
    r = router(local=slow, reply_deadline_s=1.0)
    r.settings.cloud_timeout_s = 0.4
    assert call(r) == "云端回答"
    assert _route(r) == [("local-fake", "timeout"), ("cloud-fake", "ok")]
    timed_out = r.last_trace.attempts[0]
    assert 300 < timed_out.ms < 1000 and r.last_trace.attempts[1].ms >= 0
    assert timed_out.detail  # what the backend said

    r = router(local=FakeLLM(delay_s=5.0), cloud=FakeLLM(delay_s=5.0, tier="cloud"),
               policy="local-first", reply_deadline_s=0.3)
    r.cloud.is_available = False
    with pytest.raises(LLMTimeout):
        call(r)
    assert _route(r) == [("local-fake", "timeout"), ("cloud-fake", "skipped")]

    r = router()
    r.local.enqueue(LLMError("boom"))
    assert call(r) == "云端回答"
    assert _route(r) == [("local-fake", "error"), ("cloud-fake", "ok")]


def test_registered_by_name():
    for name in ("router", "llamacpp", "zhipu"):
        assert name in registry.names("llm")
    r = registry.create("llm", "router", settings=LLMSettings(offline=True), paths=None)
    assert isinstance(r, LLMRouter) and r.policy == "local-first"
    assert r.cloud.available() is False  # offline by default
