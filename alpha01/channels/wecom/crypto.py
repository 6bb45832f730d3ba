"""The callback's signature and encryption (企业微信 回调加解密方案), written from its description.

- Signature: SHA1 of the four strings token, timestamp, nonce and the encrypted text, sorted
  and concatenated, as lowercase hex.
- Key: the EncodingAESKey (43 characters) plus "=" is base64 of the 32-byte AES-256 key; the IV
  is the key's first 16 bytes; the mode is CBC.
- Plaintext: 16 random bytes, the message length as 4 bytes big-endian, the message (UTF-8),
  the receiveid (the corp id), then PKCS#7 padding to a multiple of 32 bytes (not AES's 16).

`cryptography` (the `wecom` extra) does the AES; nothing else is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import xml.etree.ElementTree as ET

from ...errors import Alpha01Error

BLOCK = 32  # the scheme pads to 32 bytes


class CallbackError(Alpha01Error):
    """A callback that is not from WeCom or not for this shop: signature, padding, receiveid."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise CallbackError("EncodingAESKey 应为 43 个字符 (the key must be 43 characters)")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except ValueError as exc:
        raise CallbackError(f"EncodingAESKey 无效: {exc}") from exc
    if len(key) != 32:
        raise CallbackError("EncodingAESKey 解出的密钥不是 32 字节")
    return key


class CallbackCrypto:
    """Checks and opens (and, for the local fake, seals) callback payloads of one shop."""

    def __init__(self, token: str, encoding_aes_key: str, receiveid: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receiveid = receiveid

    def _cipher(self):  # noqa: ANN202 - a cryptography Cipher
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        except ImportError as exc:
            raise CallbackError("回调解密需要 cryptography：pip install 'alpha01[wecom]' "
                                "(the callback needs the wecom extra)") from exc

        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        want = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(want, (msg_signature or "").lower()):
            raise CallbackError("回调签名不符 (signature mismatch)")

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError as exc:
            raise CallbackError("回调密文不是 base64") from exc
        if not raw or len(raw) % 16:
            raise CallbackError("回调密文长度不对")
        dec = self._cipher().decryptor()
        plain = dec.update(raw) + dec.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackError("回调明文填充无效 (bad padding)")
        body = plain[16:-pad]
        if len(body) < 4:
            raise CallbackError("回调明文太短")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise CallbackError("回调明文长度字段无效")
        message, receiveid = body[4:4 + length], body[4 + length:]
        if receiveid.decode("utf-8", "replace") != self.receiveid:
            raise CallbackError("回调不是发给本企业的 (receiveid mismatch)")
        return message.decode("utf-8")

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        """The other direction (the local fake's callbacks, and replies to the URL check)."""
        data = message.encode("utf-8")
        body = (random16 or os.urandom(16)) + struct.pack(">I", len(data)) + data \
            + self.receiveid.encode()
        pad = BLOCK - len(body) % BLOCK
        body += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(body) + enc.finalize()).decode()

    # -- the two requests WeCom makes to a callback URL ------------------------------------------

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET: answer the URL check with the decrypted echostr."""
        self.check(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def open_callback(self, msg_signature: str, timestamp: str, nonce: str,
                      body: bytes | str) -> dict[str, str]:
        """POST: the XML's <Encrypt>, checked and opened, as a flat dict of its fields."""
        encrypted = _xml_fields(body).get("Encrypt", "")
        if not encrypted:
            raise CallbackError("回调里没有 Encrypt")
        self.check(msg_signature, timestamp, nonce, encrypted)
        return _xml_fields(self.decrypt(encrypted))


def _xml_fields(body: bytes | str) -> dict[str, str]:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise CallbackError("回调 XML 含有 DTD")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise CallbackError(f"回调 XML 无法解析: {exc}") from exc
    return {child.tag: (child.text or "") for child in root}
