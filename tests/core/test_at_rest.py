"""Customer data at rest, on real SQLCipher: the home's database is encrypted, a plain one is
encrypted in place without losing a row (even when killed part-way), secrets leave settings.toml,
and the home's files are readable by their owner only."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.clitext import t
from alpha01.clock import FakeClock
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever
from alpha01.storage.db import Database
from alpha01.storage.encrypt import is_plain
from alpha01.vault import PLAIN_FILE, Vault

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = ["王小明", "13812345678", "幸福路88号"]
posix_only = pytest.mark.skipif(os.name != "posix", reason="modes 0700/0600 are POSIX")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _home_with_a_customer(home: Path) -> AppContext:
    app = AppContext(paths=Paths(home).ensure())
    clock = FakeClock(1_780_000_000.0)
    channel = FakeChannel(clock=clock)
    engine = build_engine(app, channels=[channel], llm=FakeLLM(), clock=clock,
                          retriever=MemoryRetriever([]))
    engine.start()
    channel.inject("王小明", "我的电话13812345678，送到幸福路88号")
    engine.step()
    clock.advance(5.0)
    engine.step()
    engine.close()
    app.close()
    return app


def test_a_new_homes_database_is_encrypted_and_holds_no_customer_text(tmp_path):
    home = tmp_path / "home"
    app = _home_with_a_customer(home)
    db_file = app.paths.db
    assert not is_plain(db_file)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db_file).execute("SELECT count(*) FROM messages").fetchone()
    # nothing readable in any file of the home (database, its WAL, the key store)
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for word in SECRET_WORDS:
                assert word.encode() not in data, (path.name, word)
    # ... yet with the home's key it is all there
    reader = Database.open_home(app.paths, reader=True)
    assert reader.encrypted
    text = reader.conn.execute("SELECT text FROM messages").fetchone()[0]
    assert "13812345678" in text
    reader.close()


@posix_only
def test_the_home_and_its_files_are_owner_only(tmp_path):
    home = tmp_path / "home"
    app = _home_with_a_customer(home)
    app.settings = app.settings.with_overrides(shop={"name": "茶叶铺"})
    app.save_settings()
    assert _mode(home) == 0o700
    for path in (app.paths.settings, app.paths.db, home / PLAIN_FILE):
        assert _mode(path) == 0o600, path.name
    assert Vault(home).kind == "file"  # no keyring on this machine (tests turn it off)


def test_secrets_move_out_of_an_old_settings_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    settings = home / "settings.toml"
    settings.write_text('[shop]\nname = "茶叶铺"\n[sync]\nserver = "https://sync.example"\n'
                        'device_id = "dev_1"\ndevice_secret = "s3cr3t-device-value"\n'
                        '[llm]\nzhipu_api_key = "abcdef0123456789abcdef0123456789.Zx9Yw8Vu7Ts6Rq5P"\n',
                        encoding="utf-8")
    app = AppContext(paths=Paths(home))
    assert app.settings.sync.device_secret == "s3cr3t-device-value"
    assert app.settings.llm.zhipu_api_key.endswith(".Zx9Yw8Vu7Ts6Rq5P")
    text = settings.read_text(encoding="utf-8")
    assert "s3cr3t" not in text and "Zx9Yw8Vu7Ts6Rq5P" not in text
    assert 'name = "茶叶铺"' in text and 'device_id = "dev_1"' in text
    # a fresh process (a new AppContext) reads them back from the vault
    again = AppContext(paths=Paths(home)).settings
    assert again.sync.device_secret == "s3cr3t-device-value"
    assert again.llm.zhipu_api_key.endswith(".Zx9Yw8Vu7Ts6Rq5P")
    # clearing a secret in the app removes it from the vault too
    app.settings.llm.zhipu_api_key = ""
    app.save_settings()
    assert AppContext(paths=Paths(home)).settings.llm.zhipu_api_key == ""
    assert Vault(home).get("sync.device_secret") == "s3cr3t-device-value"


def _plain_home(home: Path, customers: int, per_customer: int) -> dict[str, str]:
    """A home whose database is plain SQLite (as an older alpha01 left it), with a WAL."""
    home.mkdir(parents=True)
    db = Database.open(home / "alpha01.db")  # no key: plain
    rng = random.Random(7)
    with db.tx() as conn:
        for c in range(customers):
            cid = conn.execute(
                "INSERT INTO customers (channel, chat, name, created_at) VALUES (?, ?, ?, ?)",
                ["wechat", f"客户{c}", f"客户{c}", 1.0]).lastrowid
            for m in range(per_customer):
                conn.execute(
                    "INSERT INTO messages (channel, dedupe_key, customer_id, chat, sender, text,"
                    " received_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    ["wechat", f"{c}-{m}", cid, f"客户{c}", f"客户{c}",
                     f"第{m}条：请送到幸福路{rng.randint(1, 999)}号" + "好" * rng.randint(0, 80),
                     float(m), "answered"])
    sums = _table_sums(db.conn)
    db.close()
    assert is_plain(home / "alpha01.db")
    return sums


def _table_sums(conn) -> dict[str, str]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name")]
    sums = {}
    for table in tables:
        h = hashlib.sha256()
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
            h.update(repr(tuple(row)).encode())
        sums[table] = h.hexdigest()
    return sums


def test_a_plain_database_is_encrypted_in_place_with_every_row(tmp_path):
    home = tmp_path / "home"
    before = _plain_home(home, customers=5, per_customer=20)
    # and a backup the older version made (a plain copy)
    (home / "backups").mkdir()
    old_backup = home / "backups" / "alpha01-20260101-033000.db"
    old_backup.write_bytes((home / "alpha01.db").read_bytes())
    app = AppContext(paths=Paths(home))
    db = app.db()
    assert db.encrypted and not is_plain(app.paths.db)
    assert _table_sums(db.conn) == before
    assert db.integrity_check() == "ok"
    app.close()
    assert not (home / "alpha01.db.encrypting").exists()
    assert "幸福路".encode() not in app.paths.db.read_bytes()
    assert not is_plain(old_backup) and "幸福路".encode() not in old_backup.read_bytes()
    restored = Database.open(old_backup, key=Vault(home).database_key(), migrate=False)
    assert _table_sums(restored.conn) == before
    restored.close()


OPEN_HOME = ("import sys; from alpha01.app import AppContext; from alpha01.paths import Paths;"
             " AppContext(paths=Paths.resolve(sys.argv[1])).db().close()")


def _open_home(home: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", OPEN_HOME, str(home)], env=_child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_the_encryption_survives_kill_9_at_random_points(tmp_path):
    """Each round: a plain home; the app is SIGKILLed at a random moment while it encrypts the
    database; it starts again and finishes. Every row is there and integrity_check is ok.
    At least twelve rounds, more (up to thirty) until six kills have landed inside the export."""
    template = tmp_path / "template"
    before = _plain_home(template, customers=60, per_customer=1000)
    # how long a whole run takes (start-up + encryption), to spread the kills over it
    timing = tmp_path / "timing"
    _copy_home(template, timing)
    whole = _timed_run(timing)
    startup = _timed_run(timing)  # the same, already encrypted: start-up only
    rng = random.Random(20261207)
    outcomes = {"no copy yet or done": 0, "during": 0, "finished": 0}
    rounds = 0
    while rounds < 30 and (rounds < 12 or outcomes["during"] < 6):  # until enough land inside
        n = rounds = rounds + 1
        home = tmp_path / f"round{n}"
        _copy_home(template, home)
        child = _open_home(home)
        try:
            child.wait(timeout=rng.uniform(0.9 * startup, whole))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        if child.returncode == 0:
            outcomes["finished"] += 1
        elif (home / "alpha01.db.encrypting").exists():
            outcomes["during"] += 1  # killed with a half-made encrypted copy beside the plain
        else:
            outcomes["no copy yet or done"] += 1
        again = _open_home(home)
        assert again.wait(timeout=120) == 0, again.stderr.read().decode()
        assert not is_plain(home / "alpha01.db")
        assert not (home / "alpha01.db.encrypting").exists()
        db = Database.open_home(Paths(home), reader=True)
        try:
            assert db.integrity_check() == "ok"
            assert _table_sums(db.conn) == before
        finally:
            db.close()
        shutil.rmtree(home)  # 17 MB a round
    print(f"\nencryption kill test: {rounds} rounds {outcomes} (start-up {startup:.2f} s, with"
          f" the encryption {whole:.2f} s)")
    assert outcomes["during"] >= 6, outcomes  # the kills did land inside the export


def _timed_run(home: Path) -> float:
    started = time.monotonic()
    child = _open_home(home)
    assert child.wait(timeout=120) == 0, child.stderr.read().decode()
    return time.monotonic() - started


def _copy_home(src: Path, dst: Path) -> None:
    dst.mkdir()
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())


def test_doctor_says_encrypted_where_the_key_lives_the_log_folder_and_the_last_error(tmp_path):
    import json
    import logging

    from click.testing import CliRunner

    from alpha01 import logs
    from alpha01.cli import cli

    home = tmp_path / "home"
    run = CliRunner().invoke
    try:
        first = run(cli, ["--home", str(home), "doctor", "--json"])
        # a fresh home's empty knowledge base is a problem (exit 1); these lines are notes
        assert first.exit_code in (0, 1), first.output
        checks = {c["name"]: c for c in json.loads(first.output)["checks"]}
        assert checks["encryption"]["ok"]
        assert checks["encryption"]["detail"] == t("doc.encryption.on")
        assert str(home / PLAIN_FILE) in checks["key"]["detail"]
        assert not checks["key"]["ok"] and "0600" in checks["key"]["detail"]  # a plain note
        assert checks["logs"]["ok"] and str(home / "logs") in checks["logs"]["detail"]
        assert checks["last error"]["detail"] == t("doc.no_error")
        logging.getLogger("alpha01.engine").error("send failed for 13812345678")
        second = run(cli, ["--home", str(home), "doctor", "--json"])
        checks = {c["name"]: c for c in json.loads(second.output)["checks"]}
        assert checks["last error"]["detail"].endswith("send failed for [手机号]")
    finally:
        logs.shutdown()


def test_a_data_folder_moved_to_another_pc_opens_with_its_recovery_code(tmp_path):
    from click.testing import CliRunner

    from alpha01.cli import cli
    from alpha01.errors import HomeError, StorageError

    old = tmp_path / "old"
    _home_with_a_customer(old)
    run = CliRunner().invoke
    shown = run(cli, ["--home", str(old), "key", "show"])
    assert shown.exit_code == 0, shown.output
    code = shown.output.split(t("key.code", code=""))[1].split()[0]
    assert code.replace("-", "") == Vault(old).database_key()
    # the new PC: the folder is copied, but the old PC's key store cannot be read there
    new = tmp_path / "new"
    new.mkdir()
    (new / "alpha01.db").write_bytes((old / "alpha01.db").read_bytes())
    (new / PLAIN_FILE).write_text("not this PC's", encoding="utf-8")
    with pytest.raises(HomeError, match="alpha01 key restore"):
        Database.open_home(Paths(new))
    (new / PLAIN_FILE).unlink()
    with pytest.raises(StorageError, match="alpha01 key restore"):
        Database.open_home(Paths(new))
    (new / PLAIN_FILE).write_text("not this PC's", encoding="utf-8")
    wrong = run(cli, ["--home", str(new), "key", "restore", "0" * 64])
    assert wrong.exit_code != 0 and t("key.wrong", path=new / "alpha01.db") in wrong.output
    done = run(cli, ["--home", str(new), "key", "restore", code])
    assert done.exit_code == 0, done.output
    assert (new / f"{PLAIN_FILE}.unreadable").exists()
    db = Database.open_home(Paths(new), reader=True)
    assert "王小明" in db.conn.execute("SELECT name FROM customers").fetchone()[0]
    db.close()


def test_with_a_working_keyring_the_key_and_secrets_live_there(tmp_path):
    """A real keyring backend (keyrings.alt's file keyring, in this test's folder) in a fresh
    process: the key goes there, the home only says so, and doctor names the keyring."""
    pytest.importorskip("keyrings.alt")
    import json

    home, data = tmp_path / "home", tmp_path / "xdg"
    env = {k: v for k, v in _child_env().items() if k != "ALPHA01_NO_KEYRING"}
    env.update(PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
               XDG_DATA_HOME=str(data))
    home.mkdir()
    (home / "settings.toml").write_text('[llm]\nzhipu_api_key = "abcdef0123456789.Zx9Yw8Vu7Ts6"\n',
                                        encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "alpha01.cli", "--home", str(home), "doctor",
                           "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr  # 1: the fresh home's knowledge base is empty
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["encryption"]["ok"] and checks["key"]["ok"]
    assert "系统钥匙串" in checks["key"]["detail"]
    assert (home / "secrets.keyring").exists() and not (home / PLAIN_FILE).exists()
    stored = next(data.rglob("keyring_pass.cfg")).read_text(encoding="utf-8")
    assert "alpha01" in stored and "Zx9Yw8Vu7Ts6" not in (home / "settings.toml").read_text()
    # a second process finds the key there and opens the database
    check = ("import sys; from alpha01.paths import Paths; from alpha01.storage.db import Database;"
             " from alpha01.app import AppContext; p = Paths.resolve(sys.argv[1]);"
             " db = Database.open_home(p, reader=True); print(db.encrypted, db.integrity_check(),"
             " AppContext(paths=p).settings.llm.zhipu_api_key)")
    again = subprocess.run([sys.executable, "-c", check, str(home)], env=env, capture_output=True,
                           text=True, timeout=60)
    assert again.stdout.split() == ["True", "ok", "abcdef0123456789.Zx9Yw8Vu7Ts6"], again.stderr


def test_processes_starting_together_on_a_new_home_agree_on_one_key(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    keys = _together(6, home, "from pathlib import Path; from alpha01.vault import Vault;"
                              " v = Vault(Path(sys.argv[1]))", "print(v.database_key())")
    assert len(set(keys)) == 1 and keys[0] == Vault(home).database_key()


def _together(n: int, home: Path, setup: str, act: str) -> list[str]:
    """`n` fresh processes on `home`: each runs `setup`, then all run `act` at the same moment;
    returns what each printed."""
    start = time.time() + 1.5  # all of them are up and waiting by then
    script = (f"import sys, time; {setup};"
              f" time.sleep(max(0, float(sys.argv[2]) - time.time())); {act}")
    children = [subprocess.Popen([sys.executable, "-c", script, str(home), str(start)],
                                 env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(n)]
    printed = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        printed.append(out.strip())
    return printed


def _child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")]))


def test_the_exe_started_twice_encrypts_the_old_database_once(tmp_path):
    home = tmp_path / "home"
    before = _plain_home(home, customers=30, per_customer=300)
    _together(3, home, "from alpha01.app import AppContext; from alpha01.paths import Paths;"
                       " app = AppContext(paths=Paths.resolve(sys.argv[1]))",
              "app.db().close()")
    db = Database.open_home(Paths(home), reader=True)
    assert db.encrypted and db.integrity_check() == "ok" and _table_sums(db.conn) == before
    db.close()


def test_without_sqlcipher_the_home_is_refused_in_chinese_never_opened_plain(tmp_path):
    """A Python without the sqlcipher3 package (blocked in a fresh process): the CLI stops with
    a Chinese error, and no plain database is written instead."""
    home = tmp_path / "home"
    script = ("import sys; sys.modules['sqlcipher3'] = None; from alpha01.cli import main;"
              " main(['--home', sys.argv[1], 'init'])")
    done = subprocess.run([sys.executable, "-c", script, str(home)], env=_child_env(), timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 4, done.stderr  # StorageError
    assert "缺少 sqlcipher3 组件" in done.stderr
    assert not (home / "alpha01.db").exists()


def test_a_secret_saved_by_another_process_meanwhile_is_kept(tmp_path):
    home = tmp_path / "home"
    running = Vault(home)  # e.g. the TUI, open for hours
    key = running.database_key()
    Vault(home).set("sync.device_secret", "from-the-enroll-command")  # another process
    running.set("llm.zhipu_api_key", "typed-in-the-tui")
    again = Vault(home)
    assert again.get("sync.device_secret") == "from-the-enroll-command"
    assert again.get("llm.zhipu_api_key") == "typed-in-the-tui" and again.database_key() == key
