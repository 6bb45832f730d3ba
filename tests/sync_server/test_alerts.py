"""The alert list: a device posts its alerts (once per key), the admin reads them."""

from __future__ import annotations

from .sync_helpers import enroll_device


def test_a_device_posts_alerts_and_the_admin_lists_them(api, service, clock):
    store = service.add_store("一号店")
    other = service.add_store("二号店")
    device = enroll_device(service, store["id"])
    body = {"key": "a1", "detail": "微信已退出登录", "channel": "wechat", "at": clock() - 5}
    first = api.post("/api/v1/alerts", json=body, headers=device["auth"])
    assert first.status_code == 201
    again = api.post("/api/v1/alerts", json=body, headers=device["auth"])  # a retry
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    api.post("/api/v1/alerts", json={"key": "a2", "detail": "发送失败"}, headers=device["auth"])
    rows = [r for r in api.get("/api/v1/alerts", headers=api.admin).json()
            if r["kind"] == "device_alert"]
    assert [r["detail"] for r in rows] == ["发送失败", "微信已退出登录"]
    assert rows[0]["message"].endswith("：发送失败")
    assert rows[1]["store_name"] == "一号店" and rows[1]["at"] == body["at"]
    assert api.get(f"/api/v1/alerts?store_id={other['id']}", headers=api.admin).json() == []
    reported = [r for r in api.get("/api/v1/alerts?limit=1", headers=api.admin).json()
                if r["kind"] == "device_alert"]
    assert len(reported) == 1


def test_alerts_are_checked_and_guarded(api, service, clock):
    device = enroll_device(service, service.add_store("一号店")["id"])
    bad = [{"key": "", "detail": "x"}, {"key": "k", "detail": ""},
           {"key": "k", "detail": "x" * 501}, {"key": "k" * 81, "detail": "x"},
           {"key": "k", "detail": "x", "at": clock() + 10 * 86_400}]
    for body in bad:
        assert api.post("/api/v1/alerts", json=body, headers=device["auth"]).status_code in (
            400, 422), body
    ok = {"key": "k", "detail": "x"}
    assert api.post("/api/v1/alerts", json=ok).status_code == 401  # devices only
    assert api.post("/api/v1/alerts", json=ok, headers=api.admin).status_code in (401, 403)
    assert api.get("/api/v1/alerts", headers=device["auth"]).status_code in (401, 403)
    assert api.get("/api/v1/alerts").status_code == 401
