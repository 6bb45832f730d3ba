"""The callback's signature and AES scheme, checked against a vector this test makes itself
with `cryptography` from the scheme's description (not with the channel's own code)."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from alpha01.channels.wecom.channel import WeComChannel
from alpha01.channels.wecom.crypto import CallbackCrypto, CallbackError
from alpha01.config import Settings

from .conftest import AES_KEY

CORP = "ww0123456789abcdef"
TOKEN = "QDG6eK"


def seal(plain: str, *, key43: str = AES_KEY, receiveid: str = CORP,
         random16: bytes = b"0123456789abcdef") -> str:
    """Encrypt as the scheme says: random(16) | len(4, network order) | msg | receiveid, padded
    to a multiple of 32 with PKCS#7, AES-256-CBC, IV = the key's first 16 bytes, base64."""
    key = base64.b64decode(key43 + "=")
    msg = plain.encode()
    data = random16 + struct.pack("!I", len(msg)) + msg + receiveid.encode()
    n = 32 - len(data) % 32
    data += bytes([n]) * n
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


EVENT = ("<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>"
         "<CreateTime>1767225600</CreateTime><MsgType><![CDATA[event]]></MsgType>"
         "<Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
         "<OpenKfId><![CDATA[wkFAKE0001]]></OpenKfId></xml>")


def channel(**wecom) -> WeComChannel:
    section = {"corp_id": CORP, "secret": "s", "open_kfid": "wkFAKE0001", "token": TOKEN,
               "encoding_aes_key": AES_KEY, "base_url": "http://127.0.0.1:9"}
    section.update(wecom)
    return WeComChannel(Settings().with_overrides(wecom=section))


def test_the_url_check_answers_the_decrypted_echostr():
    echo = seal("1616140317555161061")
    ts, nonce = "1767225600", "1372623149"
    ch = channel()
    query = {"msg_signature": sign(TOKEN, ts, nonce, echo), "timestamp": ts, "nonce": nonce,
             "echostr": echo}
    assert ch.handle_callback(query) == "1616140317555161061"


def test_an_event_callback_opens_and_makes_the_next_poll_read_at_once():
    encrypted = seal(EVENT)
    ts, nonce = "1767225601", "8842"
    body = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]>"
            "</Encrypt><AgentID><![CDATA[]]></AgentID></xml>").encode()
    ch = channel(poll_s=3600.0)
    ch._next_sync = 1e18
    woken = []
    ch.set_wake(lambda: woken.append(1))
    query = {"msg_signature": sign(TOKEN, ts, nonce, encrypted), "timestamp": ts, "nonce": nonce}
    assert ch.handle_callback(query, body) == "success"
    assert ch._callback_token == "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"
    assert ch._next_sync == 0.0 and woken == [1]


@pytest.mark.parametrize("length", [0, 1, 11, 12, 13, 31, 32, 33, 100, 1000])
def test_every_padding_length_round_trips(length):
    text = "微" * length
    c = CallbackCrypto(TOKEN, AES_KEY, CORP)
    assert c.decrypt(seal(text)) == text
    # and the channel's own sealing opens with the same rules
    assert c.decrypt(c.encrypt(text)) == text


def test_a_wrong_signature_is_refused():
    echo = seal("hello")
    with pytest.raises(CallbackError):
        channel().handle_callback({"msg_signature": sign(TOKEN, "1", "2", echo)[::-1],
                                   "timestamp": "1", "nonce": "2", "echostr": echo})
    with pytest.raises(CallbackError):  # signed with another shop's token
        channel().handle_callback({"msg_signature": sign("other", "1", "2", echo),
                                   "timestamp": "1", "nonce": "2", "echostr": echo})


def test_another_corps_message_is_refused():
    c = CallbackCrypto(TOKEN, AES_KEY, CORP)
    with pytest.raises(CallbackError, match="receiveid"):
        c.decrypt(seal("hello", receiveid="wwsomeoneelse"))


def test_a_damaged_or_wrongly_keyed_message_is_refused():
    c = CallbackCrypto(TOKEN, AES_KEY, CORP)
    other_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
    with pytest.raises(CallbackError):
        c.decrypt(seal("hello", key43=other_key))
    raw = bytearray(base64.b64decode(seal("hello")))
    raw[-1] ^= 0x55  # the last block decrypts to garbage: the padding check fails
    with pytest.raises(CallbackError):
        c.decrypt(base64.b64encode(bytes(raw)).decode())
    with pytest.raises(CallbackError):
        CallbackCrypto(TOKEN, "short", CORP)
