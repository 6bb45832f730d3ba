"""The WeCom channel through a real engine against the fake WeCom API over loopback."""

from __future__ import annotations

import time

import pytest

from alpha01.channels.wecom.client import (
    API_FREQ,
    BUSY,
    STATE_HUMAN,
    STATE_POOL,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    KfClient,
    WeComError,
)
from alpha01.clock import Clock
from alpha01.errors import ChannelUnavailable


def sends(fake, msgid_prefix=""):
    return [b for p, b in fake.calls if p.endswith("/kf/send_msg")
            and str(b.get("msgid", "")).startswith(msgid_prefix)]


def test_a_customer_is_answered_and_the_cursor_is_kept(make_rig, fake):
    rig = make_rig()
    fake.customer_writes("wmA", "请问几点开门？")
    rig.settle(lambda: fake.received("wmA"))
    assert len(fake.received("wmA")) == 1
    body = sends(fake)[0]
    assert body["touser"] == "wmA" and body["open_kfid"] == fake.open_kfid
    assert body["msgtype"] == "text" and body["msgid"].startswith(rig.channel._prefix + "-")
    # the cursor is saved once the engine has stored the batch (at the next poll)
    rig.engine.step()
    saved = rig.rows("SELECT cursor FROM channel_cursor WHERE channel = 'wecom'")
    assert saved == [{"cursor": rig.channel.cursor}] and rig.channel.cursor.endswith("-1")
    # one message, one row, one reply
    assert rig.rows("SELECT COUNT(*) AS n FROM messages WHERE channel='wecom'") == [{"n": 1}]
    assert len(fake.received("wmA")) == 1


def test_the_access_token_is_cached_and_fetched_again_when_refused(fake):
    client = KfClient(fake.corp_id, fake.secret, base_url=fake.url, timeout_s=5)
    for _ in range(5):
        client.sync_msg()
    assert fake.token_fetches == 1
    fake.expire_tokens()  # the service says 42001 now
    client.sync_msg()
    assert fake.token_fetches == 2
    assert fake.codes[-3:] == [TOKEN_EXPIRED, 0, 0]  # refused, new token, the call again
    fake.fail_next("/kf/sync_msg", TOKEN_INVALID)  # a token the service no longer knows
    client.sync_msg()
    assert fake.token_fetches == 3 and fake.codes[-3:] == [TOKEN_INVALID, 0, 0]
    client.close()


def test_the_token_is_renewed_before_it_expires(fake):
    now = [1000.0]
    client = KfClient(fake.corp_id, fake.secret, base_url=fake.url, clock=lambda: now[0])
    client.sync_msg()
    now[0] += 7200 - KfClient.EXPIRY_MARGIN_S - 1
    client.sync_msg()
    assert fake.token_fetches == 1
    now[0] += 2
    client.sync_msg()
    assert fake.token_fetches == 2
    client.close()


def test_a_wrong_secret_is_an_error_not_a_loop(fake):
    client = KfClient(fake.corp_id, "wrong", base_url=fake.url)
    with pytest.raises(WeComError) as err:
        client.sync_msg()
    assert err.value.errcode == 40001
    client.close()


def test_every_call_has_a_deadline():
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    conns = []
    threading.Thread(target=lambda: conns.append(srv.accept()), daemon=True).start()
    client = KfClient("c", "s", base_url=f"http://127.0.0.1:{srv.getsockname()[1]}",
                      timeout_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(WeComError) as err:
        client.sync_msg()  # accepted, never answered
    assert time.monotonic() - t0 < 3 and err.value.sent_maybe
    client.close()
    srv.close()


@pytest.mark.parametrize("code", [BUSY, API_FREQ])
def test_busy_and_rate_limited_reads_make_the_channel_unavailable_then_recover(make_rig, fake,
                                                                                 code):
    rig = make_rig()
    fake.customer_writes("wmB", "草莓多少钱？")
    fake.fail_next("/kf/sync_msg", code)
    with pytest.raises(ChannelUnavailable):
        rig.channel.poll()
    rig.settle(lambda: fake.received("wmB"))
    assert len(fake.received("wmB")) == 1


def test_the_sync_frequency_limit_without_a_callback_token(make_rig, fake):
    fake.untokened_per_min = 3
    rig = make_rig()
    for _ in range(3):
        rig.channel.poll()
    with pytest.raises(ChannelUnavailable, match="45009"):
        rig.channel.poll()


def test_an_unknown_cursor_starts_over_without_answering_twice(make_rig, fake):
    rig = make_rig()
    fake.customer_writes("wmC", "可以送货上门吗？")
    rig.settle(lambda: fake.received("wmC"))
    rig.engine.step()
    # the service forgets us (e.g. a cursor from another epoch)
    rig.channel._cursor = "stale-7"
    fake.customer_writes("wmC", "几点关门？")
    rig.settle(lambda: len(fake.received("wmC")) == 2)
    for _ in range(5):
        rig.engine.step()
    assert len(fake.received("wmC")) == 2
    assert rig.rows("SELECT COUNT(*) AS n FROM messages WHERE channel='wecom'") == [{"n": 2}]


def test_a_lost_answer_is_retried_with_the_same_msgid_and_arrives_once(make_rig, fake):
    rig = make_rig()
    fake.drop_after_send = 1  # the send goes out, its answer never comes back
    fake.customer_writes("wmD", "请问有榴莲吗？")
    rig.settle(lambda: rig.rows("SELECT state FROM replies") == [{"state": "sent"}])
    calls = sends(fake)
    assert len(calls) == 2 and calls[0]["msgid"] == calls[1]["msgid"]
    assert len(fake.received("wmD")) == 1


def test_a_busy_send_is_retried_later_with_the_same_msgid(make_rig, fake):
    rig = make_rig()
    fake.fail_next("/kf/send_msg", BUSY)
    fake.customer_writes("wmE", "苹果甜吗？")
    rig.settle(lambda: rig.rows("SELECT state FROM replies") == [{"state": "pending"}]
               and len(sends(fake)) == 1)
    rig.engine.db.conn.execute("UPDATE replies SET not_before = 0")  # skip the 10 s wait
    rig.settle(lambda: fake.received("wmE"))
    calls = sends(fake)
    assert len(calls) == 2 and calls[0]["msgid"] == calls[1]["msgid"]
    assert len(fake.received("wmE")) == 1


def _customer(rig, chat):
    return rig.rows("SELECT id FROM customers WHERE chat = ?", chat)[0]["id"]


def test_at_most_five_messages_until_the_customer_writes_again(make_rig, fake):
    rig = make_rig()
    fake.customer_writes("wmF", "在吗？我想订水果")
    rig.settle(lambda: fake.received("wmF"))
    cid = _customer(rig, "wmF")
    for n in range(6):
        rig.engine.manual_reply(cid, f"第{n + 1}条补充说明")
    rig.settle(lambda: not rig.rows("SELECT id FROM replies WHERE state IN "
                                    "('pending','sending')"))
    assert len(fake.received("wmF")) == 5
    assert len(sends(fake)) == 5  # the sixth was never even asked for
    refused = rig.rows("SELECT error FROM replies WHERE state = 'failed'")
    assert refused == [{"error": "reply window closed"}, {"error": "reply window closed"}]
    assert rig.engine.pacer.held["window"] == 2
    # the customer writes again: the window opens again
    fake.customer_writes("wmF", "好的谢谢")
    rig.settle(lambda: len(fake.received("wmF")) == 6)


class Later(Clock):
    def __init__(self) -> None:
        self.shift = 0.0

    def now(self) -> float:
        return time.time() + self.shift


def test_nothing_is_sent_48_hours_after_the_customers_last_message(make_rig, fake):
    clock = Later()
    rig = make_rig(clock=clock)
    fake.customer_writes("wmG", "周末营业吗？")
    rig.settle(lambda: fake.received("wmG"))
    clock.shift = 48 * 3600 + 60
    rig.engine.manual_reply(_customer(rig, "wmG"), "周末照常营业")
    rig.settle(lambda: rig.rows("SELECT state FROM replies WHERE kind='manual'")
               == [{"state": "failed"}])
    assert len(sends(fake)) == 1
    handoffs = rig.rows("SELECT reason FROM handoffs")
    assert {"reason": "reply window closed"} in handoffs


def test_a_handoff_gives_the_chat_to_a_human_agent(make_rig, fake):
    rig = make_rig(servicer_userid="zhangsan")
    fake.customer_writes("wmH", "转人工")
    rig.settle(lambda: fake.customers["wmH"].state == STATE_HUMAN)
    assert fake.customers["wmH"].servicer == "zhangsan"
    trans = [b for p, b in fake.calls if p.endswith("/service_state/trans")]
    assert trans == [{"open_kfid": fake.open_kfid, "external_userid": "wmH",
                      "service_state": STATE_HUMAN, "servicer_userid": "zhangsan"}]


def test_without_a_servicer_the_chat_goes_to_the_waiting_pool(make_rig, fake):
    rig = make_rig()
    fake.customer_writes("wmI", "我要投诉")
    rig.settle(lambda: fake.customers["wmI"].state == STATE_POOL)


def test_a_human_agent_typing_in_the_wecom_app_is_the_owner_taking_over(make_rig, fake):
    rig = make_rig()
    fake.customer_writes("wmJ", "香蕉多少钱？")
    rig.settle(lambda: fake.received("wmJ"))
    fake.servicer_writes("wmJ", "我是店主，香蕉今天特价")
    cid = _customer(rig, "wmJ")
    rig.settle(lambda: rig.rows("SELECT paused_until FROM customers WHERE id=?", cid)[0]
               ["paused_until"])
    # the bot's own sends are not mistaken for the owner (they carry our msgids)
    owner = rig.rows("SELECT text FROM messages WHERE direction = 'owner'")
    assert owner == [{"text": "我是店主，香蕉今天特价"}]
    fake.customer_writes("wmJ", "那来两斤")
    for _ in range(20):
        rig.engine.step()
        time.sleep(0.02)
    assert len(fake.received("wmJ")) == 1  # paused: the AI stays quiet


def test_a_clean_stop_keeps_the_cursor_of_the_last_stored_batch(make_rig, fake):
    rig = make_rig()
    fake.customer_writes("wmK", "有车厘子吗？")
    rig.settle(lambda: rig.rows("SELECT id FROM messages"))
    assert rig.rows("SELECT cursor FROM channel_cursor WHERE channel = 'wecom'") == []
    rig.channel.close()  # before the next poll: the batch is stored, so its cursor is saved
    saved = rig.rows("SELECT cursor FROM channel_cursor WHERE channel = 'wecom'")
    assert saved == [{"cursor": f"{fake._epoch}-1"}]
