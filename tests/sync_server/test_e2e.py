"""End to end: a real server on loopback, a real alpha01 home enrolled through the client."""

from __future__ import annotations

import io
import json

import httpx
import pytest
import segno
from click.testing import CliRunner

from alpha01.app import AppContext
from alpha01.cli_sync import qr, sync
from alpha01.config import Settings
from alpha01.paths import Paths
from alpha01.sync import DeviceStatus, HeartbeatLoop, SyncClient, parse_binding_code
from sync_server.service import SyncService

pytestmark = pytest.mark.timeout(90)  # a hung server must not hang the suite


def test_enroll_heartbeat_mint_scan_lands_on_this_device(tmp_path, new_db, live_server):
    db = new_db("server")
    admin = SyncService(db)
    admin.init_admin()
    store = admin.add_store("一号店", "电话 010-1234")
    other = admin.add_store("二号店")
    code, _ = admin.create_enrollment_code(store["id"])
    server = live_server(db)

    home = tmp_path / "home"
    runner = CliRunner()
    app = AppContext(paths=Paths(home))
    result = runner.invoke(sync, ["enroll", "--server", server.url, "--code", code, "--name", "收银台",
                                  "--json"], obj=app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["store_name"] == "一号店"
    in_file = Settings.load(home / "settings.toml").sync
    saved = AppContext(paths=Paths(home)).settings.sync  # the secret comes from the vault
    assert saved.server == server.url and saved.device_id.startswith("dev_") and saved.device_secret
    assert in_file.device_id == saved.device_id and in_file.device_secret == ""
    assert saved.device_secret not in (home / "settings.toml").read_text(encoding="utf-8")

    # Replaying the same code from a second home is refused.
    again = runner.invoke(sync, ["enroll", "--server", server.url, "--code", code],
                          obj=AppContext(paths=Paths(tmp_path / "home2")))
    assert again.exit_code != 0 and "403" in str(again.exception)

    # Heartbeat with the device's WeChat contact and QR image.
    wechat_png = io.BytesIO()
    segno.make("https://u.wechat.com/fake-contact").save(wechat_png, kind="png", scale=3)
    client = SyncClient(saved.server, saved.device_id, saved.device_secret)
    loop = HeartbeatLoop(client, lambda: DeviceStatus(
        channel_ok=True, open_chats=1, wechat_name="一号店小美", version="0.1.0",
        wechat_qr=wechat_png.getvalue()), interval_s=30)
    assert loop.beat_once() and loop.sent == 1

    status = runner.invoke(sync, ["status", "--json"], obj=AppContext(paths=Paths(home)))
    info = json.loads(status.output)
    assert info["online"] is True and info["store_name"] == "一号店"

    # Mint through the alpha01 command, with a PNG file.
    png = tmp_path / "store.png"
    minted = runner.invoke(qr, ["--png", str(png), "--channel", "门口海报", "--target", "wechat",
                                "--json"],
                           obj=AppContext(paths=Paths(home)),
                           catch_exceptions=False)
    url = json.loads(minted.output)["url"]
    assert json.loads(minted.output)["target"] == "wechat"
    assert admin.token_info(json.loads(minted.output)["jti"])["target"] == "wechat"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert url.startswith(server.url + "/q/k1.")

    # A customer's phone scans it.
    page = httpx.get(url, timeout=5.0)
    assert page.status_code == 200
    assert "一号店小美" in page.text and "一号店" in page.text
    image = httpx.get(server.url + page.text.split('src="')[1].split('"')[0], timeout=5.0)
    assert image.content == wechat_png.getvalue()

    # The customer copies the code into the friend request; the device resolves it.
    friend_request = "我是" + page.text.split('class="code">')[1].split("<")[0] + "，想问下营业时间"
    binding_code = parse_binding_code(friend_request)
    found = client.resolve_binding(binding_code)
    assert (found.store_name, found.channel, found.device_id) == ("一号店", "门口海报", saved.device_id)

    # The device cannot mint for another store; the scan was recorded for attribution.
    refused = httpx.post(server.url + "/api/v1/qr", json={"store_id": other["id"]}, timeout=5.0,
                         headers={"Authorization": f"Bearer {saved.device_id}.{saved.device_secret}"})
    assert refused.status_code == 403
    stats = admin.scan_stats(store["id"])
    assert stats == [{"store_id": store["id"], "channel": "门口海报", "device_id": saved.device_id,
                      "outcome": "device", "scans": 1}]
    client.close()
