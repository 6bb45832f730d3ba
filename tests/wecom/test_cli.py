"""`alpha01 wecom setup` keeps the secrets out of settings.toml; `alpha01 qr --wecom` prints the
kf contact link the (fake) API hands out; `alpha01 run --channel wecom` answers through it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from alpha01.channels.wecom.fake import FakeWeCom
from alpha01.paths import Paths
from alpha01.vault import Vault

from .conftest import AES_KEY


def alpha01(*args, home, input=None, timeout=60):
    env = dict(os.environ, ALPHA01_HOME=str(home), ALPHA01_NO_KEYRING="1", LANG="zh_CN.UTF-8")
    return subprocess.run([sys.executable, "-m", "alpha01.cli", *args], capture_output=True,
                          text=True, input=input, env=env, timeout=timeout)


def setup(home, fake: FakeWeCom, *extra):
    return alpha01("wecom", "setup", "--corp-id", fake.corp_id, "--open-kfid", fake.open_kfid,
                   "--token", "cbtoken", "--aes-key", AES_KEY, "--base-url", fake.url, *extra,
                   home=home, input=fake.secret + "\n")


def test_setup_puts_the_secrets_in_the_vault_not_in_settings(tmp_path, fake):
    home = tmp_path / "h"
    r = setup(home, fake, "--check")
    assert r.returncode == 0, r.stderr
    assert "已保存" in r.stdout and fake.token_fetches == 1
    toml = (home / "settings.toml").read_text(encoding="utf-8")
    assert fake.corp_id in toml and fake.open_kfid in toml
    assert fake.secret not in toml and AES_KEY not in toml and "cbtoken" not in toml
    vault = Vault(Paths(home).home)
    assert vault.get("wecom.secret") == fake.secret
    assert vault.get("wecom.encoding_aes_key") == AES_KEY
    assert vault.get("wecom.token") == "cbtoken"


def test_setup_refuses_a_bad_key_and_a_wrong_secret(tmp_path, fake):
    home = tmp_path / "h"
    r = alpha01("wecom", "setup", "--corp-id", "ww1", "--open-kfid", "wk1", "--aes-key", "short",
                home=home, input="s\n")
    assert r.returncode != 0 and "EncodingAESKey" in r.stderr
    r = alpha01("wecom", "setup", "--corp-id", fake.corp_id, "--open-kfid", fake.open_kfid,
                "--base-url", fake.url, "--check", home=home, input="wrong\n")
    assert r.returncode != 0 and "40001" in r.stderr
    assert not (home / "settings.toml").exists()  # nothing was saved


def test_qr_prints_the_kf_contact_link(tmp_path, fake):
    home = tmp_path / "h"
    assert setup(home, fake).returncode == 0
    r = alpha01("qr", "--wecom", home=home)
    assert r.returncode == 0, r.stderr
    link = f"https://work.weixin.qq.com/kfid/{fake.open_kfid}"
    assert link in r.stdout and any(block in r.stdout for block in "█▀▄")
    r = alpha01("--home", str(home), "qr", "--wecom", "--channel", "门口海报", "--json",
                home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["url"] == link + "?scene=门口海报"


def test_qr_without_setup_says_what_to_do(tmp_path):
    r = alpha01("qr", "--wecom", home=tmp_path / "h")
    assert r.returncode != 0 and "alpha01 wecom setup" in r.stderr


def test_run_channel_wecom_answers_through_the_fake(tmp_path, fake):
    home = tmp_path / "h"
    assert setup(home, fake).returncode == 0
    import tomllib

    import tomli_w

    data = tomllib.loads((home / "settings.toml").read_text(encoding="utf-8"))
    data["llm"]["backend"], data["knowledge"]["backend"] = "none", "memory"
    data["wecom"]["poll_s"] = 0.3
    (home / "settings.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    env = dict(os.environ, ALPHA01_HOME=str(home), ALPHA01_NO_KEYRING="1")
    child = subprocess.Popen([sys.executable, "-m", "alpha01.cli", "run", "--channel", "wecom",
                              "--headless"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        fake.customer_writes("wmRun", "你好")
        end = time.monotonic() + 30
        while time.monotonic() < end and not fake.received("wmRun"):
            time.sleep(0.2)
        assert fake.received("wmRun"), "no reply reached the customer"
    finally:
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
