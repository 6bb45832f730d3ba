"""The web channel's state without HTTP: dedupe of retried posts, reply fan-out, rate limits."""

from __future__ import annotations

from alpha01.channels.web.hub import Hub
from alpha01.domain import Outbound
from alpha01.ratelimit import RateLimiter


def test_a_retried_message_is_queued_once_and_carries_the_binding_code():
    woken = []
    hub = Hub("web")
    hub.wake = lambda: woken.append(1)
    hub.tag("s" * 22, bind="ABC234")
    assert hub.accept("s" * 22, "client-0001", "在吗")[0] is True
    assert hub.accept("s" * 22, "client-0001", "在吗")[0] is False
    (msg,) = hub.drain()
    assert msg.key_hint == f"{'s' * 22}:client-0001" and msg.extra == {"bind": "ABC234"}
    assert woken == [1] and hub.drain() == []


def test_a_reply_id_is_shown_once_and_confirmed():
    hub = Hub("web")
    out = Outbound(id=7, channel="web", chat="x" * 22, text="您好")
    hub.deliver(out)
    hub.deliver(out)
    assert [i["id"] for i in hub.transcript("x" * 22)] == ["r:7"]
    assert hub.delivered("x" * 22, 7) and not hub.delivered("x" * 22, 8)


def test_history_seeded_from_the_database_once():
    calls = []

    def seed(chat):
        calls.append(chat)
        return [("user", "几点开门"), ("assistant", "八点半")]

    hub = Hub("web", seed=seed)
    items = hub.transcript("y" * 22)
    assert [(i["role"], i["text"]) for i in items] == [("customer", "几点开门"),
                                                        ("shop", "八点半")]
    hub.transcript("y" * 22)
    assert calls == ["y" * 22]


def test_token_bucket_allows_a_burst_then_refills():
    now = [0.0]
    rl = RateLimiter(60, 3, clock=lambda: now[0])
    assert [rl.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.take("a") > 0 and rl.take("b") == 0.0
    now[0] += 1.0
    assert rl.take("a") == 0.0
