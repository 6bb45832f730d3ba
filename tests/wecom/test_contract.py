"""The thin httpx client is pinned to wechatpy's WeChatKF client (the field's library): both
call the fake WeCom over loopback and must send the same paths and bodies; wechatpy's callback
crypto and ours must open each other's messages; the error codes must agree.

wechatpy is a dev dependency (pyproject `dev` extra). If it is missing this module fails to
import: the contract is not skipped silently.
"""

from __future__ import annotations

import time

from wechatpy.constants import WeChatErrorCode
from wechatpy.work import WeChatClient
from wechatpy.work.crypto import WeChatCrypto

from alpha01.channels.wecom import client as ours
from alpha01.channels.wecom.client import KfClient
from alpha01.channels.wecom.crypto import CallbackCrypto

from .conftest import AES_KEY


def _pair(fake):
    mine = KfClient(fake.corp_id, fake.secret, base_url=fake.url, timeout_s=5)
    ref = WeChatClient(fake.corp_id, fake.secret, access_token=mine.access_token(), timeout=5)
    ref.API_BASE_URL = fake.url + "/cgi-bin/"
    return mine, ref


def _last(fake):
    path, body = fake.calls[-1]
    return path, body


def test_the_kf_calls_match_wechatpy(fake):
    mine, ref = _pair(fake)
    fake.customer_writes("wmX", "你好")
    pairs = [
        (lambda: ref.kf.sync_msg("cbtok", cursor="", limit=100),
         lambda: mine.sync_msg(token="cbtok", cursor="", limit=100)),
        (lambda: ref.kf_message.send("wmX", fake.open_kfid, msgid="a01-1",
                                     msg={"msgtype": "text", "text": {"content": "您好"}}),
         lambda: mine.send_text("wmX", fake.open_kfid, "您好", msgid="a01-2")),
        (lambda: ref.kf.get_service_state(fake.open_kfid, "wmX"),
         lambda: mine.service_state(fake.open_kfid, "wmX")),
        (lambda: ref.kf.trans_service_state(fake.open_kfid, "wmX", 3, "zhangsan"),
         lambda: mine.trans_service_state(fake.open_kfid, "wmX", 3, "zhangsan")),
        (lambda: ref.kf.send_msg_on_event("CODE1", "text", {"text": {"content": "欢迎"}}, "w-1"),
         lambda: mine.send_text_on_event("CODE1", "欢迎", msgid="w-1")),
        (lambda: ref.kf.add_contact_way(fake.open_kfid, "shop"),
         lambda: mine.contact_url(fake.open_kfid, "shop")),
    ]
    for theirs, mine_call in pairs:
        theirs()
        ref_path, ref_body = _last(fake)
        mine_call()
        my_path, my_body = _last(fake)
        assert my_path == ref_path
        if "msgid" in ref_body:  # two sends need two msgids; the rest is the same
            ref_body = dict(ref_body, msgid=my_body["msgid"])
        assert my_body == ref_body, ref_path
    mine.close()


def test_sync_msg_may_name_the_kf_account_which_wechatpy_does_not_yet(fake):
    # the current API takes an optional open_kfid; wechatpy 2.0.0a26 predates it
    mine, _ = _pair(fake)
    mine.sync_msg(open_kfid=fake.open_kfid)
    assert _last(fake)[1]["open_kfid"] == fake.open_kfid
    mine.close()


def test_error_codes_agree():
    assert ours.BUSY == WeChatErrorCode.SYSTEM_BUSY
    assert ours.SECRET_INVALID == WeChatErrorCode.INVALID_CREDENTIAL
    assert ours.TOKEN_INVALID == WeChatErrorCode.INVALID_ACCESS_TOKEN
    assert ours.TOKEN_EXPIRED == WeChatErrorCode.EXPIRED_ACCESS_TOKEN
    assert ours.API_FREQ == WeChatErrorCode.OUT_OF_API_FREQ_LIMIT


def test_the_callback_crypto_interoperates():
    corp = "ww0123456789abcdef"
    theirs = WeChatCrypto("cbtoken", AES_KEY, corp)
    mine = CallbackCrypto("cbtoken", AES_KEY, corp)
    event = ("<xml><ToUserName>ww0123456789abcdef</ToUserName><Event>kf_msg_or_event</Event>"
             "<Token>T1</Token><OpenKfId>wkFAKE0001</OpenKfId></xml>")
    ts, nonce = str(int(time.time())), "n0nce"
    sealed = theirs.encrypt_message(event, nonce, ts)
    from xml.etree import ElementTree as ET

    root = ET.fromstring(sealed)
    opened = mine.open_callback(root.findtext("MsgSignature"), ts, nonce,
                                f"<xml><Encrypt>{root.findtext('Encrypt')}</Encrypt></xml>")
    assert opened["Token"] == "T1" and opened["OpenKfId"] == "wkFAKE0001"
    # and the other way: what we seal, wechatpy opens
    enc = mine.encrypt("微信客服")
    from alpha01.channels.wecom.crypto import signature

    body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    assert theirs.decrypt_message(body, signature("cbtoken", ts, nonce, enc), ts,
                                  nonce) == "微信客服"
