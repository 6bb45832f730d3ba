"""Every bad QR token gets the same answer: same status, same bytes, never a 500."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from sync_server import security
from sync_server.security import BadToken, TokenKeys

from .sync_helpers import enroll_device


@pytest.fixture
def store(service):
    return service.add_store("一号店", "电话 010-1234")


@pytest.fixture
def good(service, store):
    enroll_device(service, store["id"])
    return service.mint(store["id"], "门口海报", 86400, "admin")["token"]


@pytest.fixture
def reference(api):
    """The answer to a token that was never minted: every bad token must look exactly like it."""
    r = api.get("/q/k1.never-minted.nosig")
    assert r.status_code == 404
    return r


def q_path(token: str) -> str:
    """The token as one path segment; dots encoded so the client does not fold "." / ".."."""
    return "/q/" + quote(token, safe="").replace(".", "%2E")


def assert_uniform(api, token: str, reference) -> None:
    r = api.get(q_path(token))
    assert r.status_code == reference.status_code, token
    assert r.content == reference.content, token
    assert r.headers["content-type"] == reference.headers["content-type"]


def test_a_good_token_lands_on_the_store_page(api, good):
    r = api.get(f"/q/{good}")
    assert r.status_code == 200
    assert "一号店" in r.text and "店码" in r.text


def test_tampered_payload_is_rejected(api, good, reference, service, store):
    kid, payload, sig = good.split(".")
    other = service.add_store("二号店")
    forged = base64.urlsafe_b64encode(
        json.dumps({"s": other["id"], "j": "x"}, separators=(",", ":")).encode()
    ).rstrip(b"=").decode()
    assert_uniform(api, f"{kid}.{forged}.{sig}", reference)
    # One flipped character in the payload.
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    assert_uniform(api, f"{kid}.{flipped}.{sig}", reference)


def test_wrong_key_is_rejected(api, store, reference, service):
    jti = service.mint(store["id"], "x", None, "admin")["jti"]
    attacker = TokenKeys({"k1": "not-the-server-secret"})
    assert_uniform(api, attacker.sign(store["id"], jti, None), reference)


def test_truncated_signature_is_rejected(api, good, reference):
    for cut in (1, 5, 20, len(good.split(".")[2])):
        assert_uniform(api, good[:-cut], reference)


def test_unknown_key_id_is_rejected(api, good, reference):
    _, payload, sig = good.split(".")
    for kid in ("k999", "k0", "x1", "", "k1k1"):
        assert_uniform(api, f"{kid}.{payload}.{sig}", reference)


def test_expired_token_is_rejected(api, service, store, clock, reference):
    enroll_device(service, store["id"])
    token = service.mint(store["id"], "x", 60, "admin")["token"]
    assert api.get(f"/q/{token}").status_code == 200
    clock.advance(61)
    enroll_device(service, store["id"])  # a fresh device: only the expiry can refuse it now
    assert_uniform(api, token, reference)


def test_revoked_token_is_rejected(api, service, store, good, reference):
    assert api.get(f"/q/{good}").status_code == 200
    service.revoke(service.jti_of(good))
    assert_uniform(api, good, reference)


def test_revoked_through_the_api(api, service, store, good, reference):
    jti = service.jti_of(good)
    assert api.post(f"/api/v1/qr/{jti}/revoke", headers=api.admin).status_code == 200
    assert_uniform(api, good, reference)


def test_cross_store_token_with_a_real_signature_is_rejected(api, service, store, reference):
    """A correctly signed token that names another store than the one it was minted for."""
    other = service.add_store("二号店")
    enroll_device(service, other["id"])
    jti = service.mint(store["id"], "x", None, "admin")["jti"]
    forged = service.keys().sign(other["id"], jti, None)
    assert_uniform(api, forged, reference)


def test_a_device_cannot_mint_or_revoke_for_another_store(api, service, store):
    other = service.add_store("二号店")
    device = enroll_device(service, store["id"])
    r = api.post("/api/v1/qr", json={"store_id": other["id"], "channel": "x"}, headers=device["auth"])
    assert r.status_code == 403
    other_jti = service.mint(other["id"], "x", None, "admin")["jti"]
    r = api.post(f"/api/v1/qr/{other_jti}/revoke", headers=device["auth"])
    assert r.status_code == 404
    assert service.token_info(other_jti)["revoked_at"] is None
    own = api.post("/api/v1/qr", json={"channel": "柜台"}, headers=device["auth"])
    assert own.status_code == 201 and own.json()["store_id"] == store["id"]


def test_replayed_enrollment_code_is_rejected(api, service, store):
    code, _ = service.create_enrollment_code(store["id"])
    first = api.post("/api/v1/enroll", json={"code": code})
    assert first.status_code == 200
    again = api.post("/api/v1/enroll", json={"code": code})
    unknown = api.post("/api/v1/enroll", json={"code": "ZZZZ-ZZZZ"})
    assert again.status_code == unknown.status_code == 403
    assert again.content == unknown.content
    assert len(service.list_devices()) == 1


def test_expired_enrollment_code_is_rejected(api, service, store, clock):
    code, _ = service.create_enrollment_code(store["id"], minutes=5)
    clock.advance(301)
    assert api.post("/api/v1/enroll", json={"code": code}).status_code == 403


def test_rotation_new_key_signs_old_keys_verify_retired_key_refuses(api, service, store, reference):
    enroll_device(service, store["id"])
    old = service.mint(store["id"], "x", None, "admin")["token"]
    assert old.startswith("k1.")
    assert service.rotate_key() == "k2"
    new = service.mint(store["id"], "x", None, "admin")["token"]
    assert new.startswith("k2.")
    assert api.get(f"/q/{old}").status_code == 200
    assert api.get(f"/q/{new}").status_code == 200
    service.retire_key("k1")
    assert_uniform(api, old, reference)
    assert api.get(f"/q/{new}").status_code == 200


def test_verify_rejects_non_int_store_and_bad_shapes():
    keys = TokenKeys({"k1": "s" * 32})
    raw = URLSafeSerializer("s" * 32, salt=security.TOKEN_SALT,
                            signer_kwargs={"digest_method": __import__("hashlib").sha256})
    for payload in ({"s": "1", "j": "a"}, {"s": True, "j": "a"}, {"j": "a"}, [1, 2],
                    {"s": 1, "j": "a", "x": 1.5}, {"s": 1, "j": ""}):
        with pytest.raises(BadToken):
            keys.verify("k1." + raw.dumps(payload), now=0)
    for junk in ("", ".", "k1.", "k1..", "k1.a.b.c", "é" * 10, "k1." + "a" * 500):
        with pytest.raises(BadToken):
            keys.verify(junk, now=0)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.one_of(
    st.text(min_size=1, max_size=300),
    st.text(alphabet="abcdefghijkABCDEFGHIJK0123456789-_.", min_size=1, max_size=200),
    st.builds(lambda a, b: f"k1.{a}.{b}", st.text(max_size=80), st.text(max_size=60)),
))
def test_fuzzed_tokens_all_get_the_same_answer(api, good, reference, junk):
    if junk == good:
        return
    r = api.get(q_path(junk))
    assert r.status_code == 404, junk
    assert r.content == reference.content
