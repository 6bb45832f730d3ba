"""The log file: a crash leaves its traceback there, and no line shows a phone number, an ID
number, an address, a token or a key."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from alpha01 import logs
from alpha01.clitext import t
from alpha01.paths import Paths

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13812345678"
TOKEN = "tok_9fA2kQ7xLm3Zp8Rw1Yb6"
ZHIPU_KEY = "0123456789abcdef0123456789abcdef.Zx9Yw8Vu7Ts6Rq5P"
ID_NUMBER = "110101199003071234"
ADDRESS = "杭州市西湖区文三路88号3栋201室"
PRIVATE = [PHONE, TOKEN, ZHIPU_KEY, "Zx9Yw8Vu7Ts6Rq5P", ID_NUMBER, "文三路88号"]


def _run(script: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", script, str(home)], env=env, timeout=60,
                          capture_output=True, text=True)


@pytest.fixture
def installed():
    yield
    logs.shutdown()  # leave no handler pointing into a deleted tmp dir


def test_a_crash_of_the_program_leaves_its_traceback_in_the_log(tmp_path):
    """The exe's entry point (alpha01.cli.main) meets a bug in a command."""
    home = tmp_path / "home"
    script = f"""
import sys
from alpha01 import cli as c

@c.cli.command("boom")
def boom():
    raise RuntimeError("客户 {PHONE} Bearer {TOKEN} key {ZHIPU_KEY}")

c.main(["--home", sys.argv[1], "boom"])
"""
    done = _run(script, home)
    assert done.returncode == 1, done.stderr
    log = home / "logs" / "alpha01.log"
    assert t("crash.logged", kind="RuntimeError", path=log) in done.stderr
    text = log.read_text(encoding="utf-8")
    assert "CRITICAL alpha01.crash" in text and "Traceback (most recent call last)" in text
    assert 'in boom' in text and "RuntimeError: 客户 [手机号] Bearer [令牌] key [密钥]" in text
    for secret in PRIVATE[:4]:
        assert secret not in text
    assert logs.last_error(Paths(home)).startswith(text.splitlines()[0][:10])


def test_a_crash_in_a_thread_is_logged_too(tmp_path):
    home = tmp_path / "home"
    script = """
import sys, threading
from alpha01 import logs
from alpha01.paths import Paths

logs.setup(Paths.resolve(sys.argv[1]))
logs.install_crash_hooks()

def work():
    raise ValueError("engine thread broke")

t = threading.Thread(target=work, name="engine")
t.start(); t.join()
raise SystemExit(3)
"""
    done = _run(script, home)
    assert done.returncode == 3, done.stderr
    text = (home / "logs" / "alpha01.log").read_text(encoding="utf-8")
    assert "uncaught exception in thread engine: ValueError" in text
    assert "ValueError: engine thread broke" in text and "in work" in text


def test_a_log_line_shows_no_phone_token_key_id_or_address(tmp_path, installed):
    paths = Paths(tmp_path / "home")
    path = logs.setup(paths)
    assert path == paths.logs / "alpha01.log"
    log = logging.getLogger("alpha01.engine")
    log.warning("customer %s (id %s, %s) sent with token=%s and zhipu key %s",
                PHONE, ID_NUMBER, ADDRESS, TOKEN, ZHIPU_KEY)
    log.error("heartbeat refused: Authorization: Bearer dev_abc.%s", TOKEN)
    logging.getLogger("alpha01").handlers[-1].flush()
    text = path.read_text(encoding="utf-8")
    for secret in PRIVATE:
        assert secret not in text, secret
    assert "customer [手机号] (id [身份证号], [地址]) sent with token=[密钥]" in text
    assert logs.last_error(paths).endswith("heartbeat refused: Authorization: Bearer [令牌]")
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.logs.stat().st_mode) == 0o700
        assert stat.S_IMODE(paths.home.stat().st_mode) == 0o700


def test_the_log_rotates_and_every_generation_is_owner_only(tmp_path, installed, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    paths = Paths(tmp_path / "home")
    logs.setup(paths)
    for n in range(400):
        logging.getLogger("alpha01.jobs").info("job run %d finished", n)
    files = sorted(paths.logs.glob("alpha01.log*"))
    assert len(files) == 1 + logs.BACKUPS
    if os.name == "posix":
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


def test_redaction_keeps_ordinary_lines_readable():
    line = "engine step failed; reply 123 sent in 0.25 s to chat 7 (/home/u/.alpha01/logs)"
    assert logs.redact(line) == line
    assert logs.redact("+86 139-1234-5678 或 15912345678") == "[手机号] 或 [手机号]"
    hidden = logs.redact("送到北京市朝阳区望京街道，谢谢")  # the words before it may go too
    assert "[地址]，谢谢" in hidden and "朝阳" not in hidden and "望京" not in hidden


def test_the_engine_logs_what_went_wrong_but_no_message_text(tmp_path, installed):
    from alpha01.app import AppContext, build_engine
    from alpha01.channels.fake import FakeChannel
    from alpha01.clock import FakeClock
    from alpha01.llm.fake import FakeLLM
    from alpha01.pipeline.retrieval import MemoryRetriever

    paths = Paths(tmp_path / "home")
    path = logs.setup(paths)
    app = AppContext(paths=paths)
    clock = FakeClock(1_780_000_000.0)
    channel = FakeChannel(clock=clock)
    engine = build_engine(app, channels=[channel], llm=FakeLLM(default="好的，芒果今天八块"),
                          retriever=MemoryRetriever([]), clock=clock)
    engine.start()
    channel.fail_sends(RuntimeError("the send button vanished"))
    channel.inject("小王", f"芒果多少钱一斤？我的电话{PHONE}")
    for _ in range(4):
        engine.step()
        clock.advance(5.0)
    engine.close()
    app.close()
    logging.getLogger("alpha01").handlers[-1].flush()
    text = path.read_text(encoding="utf-8")
    assert "WARNING alpha01.engine" in text and "the send button vanished" in text
    assert "芒果" not in text and "多少钱" not in text and "八块" not in text
    assert PHONE not in text
