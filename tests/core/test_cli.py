"""The command line as a merchant (or a script) uses it: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from alpha01.clitext import t


def alpha01(*args, home=None, input=None, env=None, timeout=60):
    e = dict(os.environ)
    if home is not None:
        e["ALPHA01_HOME"] = str(home)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "alpha01.cli", *args], capture_output=True,
                          text=True, input=input, env=e, timeout=timeout)


def no_model_home(tmp_path):
    """A home whose shop has no model: answers come from rules, FAQ and the safe reply only,
    so these tests neither wait for nor depend on a local model being installed."""
    home = tmp_path / "h"
    home.mkdir(exist_ok=True)
    (home / "settings.toml").write_text('[llm]\nbackend = "none"\n', encoding="utf-8")
    return home


def test_version():
    from alpha01 import __version__

    r = alpha01("--version")
    assert r.returncode == 0 and __version__ in r.stdout


def test_init_then_doctor_json(tmp_path):
    home = tmp_path / "h"
    assert alpha01("init", "--shop", "好果子", home=home).returncode == 0
    assert "好果子" in (home / "settings.toml").read_text(encoding="utf-8")
    r = alpha01("doctor", "--json", home=home)
    report = json.loads(r.stdout)
    names = {c["name"]: c for c in report["checks"]}
    # a new shop has no documents yet: not ready, and doctor says what to do
    assert r.returncode == 1 and report["ok"] is False
    assert not names["knowledge"]["ok"] and names["knowledge"]["fix"]
    from alpha01.storage.migrations import known_names

    assert names["database"]["ok"] and known_names()[-1] in names["database"]["detail"]


def test_ask_json_contract_on_the_demo_shop(tmp_path):
    r = alpha01("ask", "--demo", "--json", "你们几点开门？", home=no_model_home(tmp_path))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"reply", "tier", "handoff", "passages", "model", "latency_ms"} <= set(out)
    assert out["tier"] == "faq" and out["handoff"] is False
    assert "8:30" in out["reply"]
    assert out["passages"][0]["source"] == "faq.csv"


def test_ask_batch_reads_lines_and_jsonl_and_writes_jsonl(tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_text('你们几点开门？\n{"id": "q2", "question": "转人工"}\n\n'
                     '{"question": "你们支持花呗吗"}\n', encoding="utf-8")
    r = alpha01("ask", "--demo", "--batch", str(batch), "--json", home=no_model_home(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["id"] for x in lines] == [1, "q2", 3]
    assert [x["tier"] for x in lines] == ["faq", "handoff", "fallback"]
    assert lines[1]["handoff"] is True


def test_ask_batch_with_a_broken_line_names_it(tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": "ok"}\n{"question": 3}\n', encoding="utf-8")
    r = alpha01("ask", "--batch", str(batch), home=tmp_path / "h")
    assert r.returncode == 2 and t("batch.no_question", name="q.jsonl", n=2) in r.stderr


def test_rules_add_list_remove_and_the_rule_answers(tmp_path):
    home = tmp_path / "h"
    r = alpha01("rules", "add", "--pattern", "停车|车位", "--reply", "门口有免费车位。",
                home=home)
    assert r.returncode == 0, r.stderr
    listed = json.loads(alpha01("rules", "list", "--json", home=home).stdout)
    mine = [x for x in listed if not x["builtin"]]
    assert mine[0]["pattern"] == "停车|车位"
    out = json.loads(alpha01("ask", "--json", "门口好停车吗", home=home).stdout)
    assert (out["tier"], out["reply"]) == ("rule", "门口有免费车位。")
    assert alpha01("rules", "remove", str(mine[0]["id"]), home=home).returncode == 0
    assert alpha01("rules", "remove", "9999", home=home).returncode != 0


def test_a_bad_regex_rule_is_refused_clearly(tmp_path):
    r = alpha01("rules", "add", "--match", "regex", "--pattern", "([", "--reply", "x",
                home=tmp_path / "h")
    assert r.returncode == 2 and "not a valid regex" in r.stderr


def test_malformed_settings_name_the_key(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "settings.toml").write_text("[engine]\nhistory_window = 'ten'\n", encoding="utf-8")
    r = alpha01("ask", "hi", home=home)
    assert r.returncode == 2
    assert "engine.history_window" in r.stderr and "Traceback" not in r.stderr


def test_an_unwritable_home_is_a_clear_error():
    # /proc refuses new directories even to root, so this holds wherever the tests run
    r = alpha01("init", home="/proc/alpha01-home")
    assert r.returncode == 3 and "cannot use home directory" in r.stderr


def test_a_home_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = alpha01("init", home=f / "home")
    assert r.returncode == 3 and "cannot use home directory" in r.stderr


def test_a_newer_database_is_refused(tmp_path):
    from alpha01.storage.db import connect
    from alpha01.vault import Vault

    home = tmp_path / "h"
    assert alpha01("init", home=home).returncode == 0
    con = connect(home / "alpha01.db", key=Vault(home).database_key())
    con.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                " VALUES ('alpha01', '900_later', 'x')")
    con.commit()
    con.close()
    r = alpha01("doctor", home=home)
    assert r.returncode == 1 and "newer alpha01" in r.stdout


def test_headless_demo_plays_the_conversation(tmp_path):
    r = alpha01("demo", "--headless", "--speed", "20", home=no_model_home(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "[店铺 → 小王] 我们每天早上8:30开门" in r.stdout
    assert "转接" in r.stdout
    # the merchant's own home is untouched by the demo
    assert not (tmp_path / "h" / "alpha01.db").exists()


def test_console_channel_answers_stdin(tmp_path):
    home = tmp_path / "h"
    r = alpha01("--home", str(home), "run", "--channel", "console", "--headless",
                input="转人工\n", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "店铺：好的，已为您转接店主" in r.stdout


def test_unknown_channel_is_a_clear_error(tmp_path):
    r = alpha01("run", "--channel", "telegram", "--headless", home=tmp_path / "h")
    assert r.returncode == 2 and "no channel backend named 'telegram'" in r.stderr


def test_ask_leaves_the_customer_tables_empty(tmp_path):
    from alpha01.storage.db import connect
    from alpha01.vault import Vault

    home = no_model_home(tmp_path)
    for question in ("你好", "转人工", "你们支持花呗吗"):
        r = alpha01("ask", "--json", question, home=home)
        assert r.returncode == 0, r.stderr
    conn = connect(home / "alpha01.db", key=Vault(home).database_key())
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("customers", "messages", "replies", "handoffs", "events")}
    conn.close()
    assert counts == dict.fromkeys(counts, 0)


def test_json_is_reachable_on_models_sync_and_qr(tmp_path):
    home = no_model_home(tmp_path)
    listed = json.loads(alpha01("models", "list", "--json", home=home).stdout)
    assert {"models", "active"} <= set(listed) and listed["models"]
    checked = alpha01("models", "check", "--json", home=home)
    assert "models" in json.loads(checked.stdout), checked.stderr
    refused = alpha01("models", "install", "no-such-model", "--json", home=home)
    assert refused.returncode == 2 and "no-such-model" in refused.stderr
    status = json.loads(alpha01("sync", "status", "--json", home=home).stdout)
    assert status["enrolled"] is False
    enroll = alpha01("sync", "enroll", "--server", "http://127.0.0.1:9", "--code", "x",
                     "--json", home=home)
    assert "--json" not in enroll.stderr  # the option exists; the server is just not there
    web = alpha01("qr", "--web", "--json", home=home)
    assert web.returncode == 0, web.stderr
    assert json.loads(web.stdout)["url"].startswith("http://127.0.0.1:")


def test_qr_web_on_default_settings_warns_that_no_phone_can_reach_it(tmp_path):
    home = no_model_home(tmp_path)
    plain = alpha01("qr", "--web", home=home)
    assert plain.returncode == 0 and "127.0.0.1" in plain.stdout
    assert "127.0.0.1" in plain.stderr and "public_url" in plain.stderr
    out = json.loads(alpha01("qr", "--web", "--json", home=home).stdout)
    assert out["phone_reachable"] is False and out["warning"]
    (home / "settings.toml").write_text(
        '[llm]\nbackend = "none"\n[web]\npublic_url = "https://chat.example.com/"\n',
        encoding="utf-8")
    shop = json.loads(alpha01("qr", "--web", "--json", home=home).stdout)
    assert shop["phone_reachable"] is True and shop["warning"] is None
    assert alpha01("qr", "--web", home=home).stderr == ""


def test_a_stop_signal_asks_the_headless_run_to_stop_cleanly_and_a_second_one_stops_at_once():
    import signal
    import threading
    import time

    import pytest

    from alpha01.cli import _stop_on_signals

    before = signal.getsignal(signal.SIGINT)
    stop = threading.Event()
    previous = _stop_on_signals(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # a service manager's stop: no exception
        assert stop.wait(5)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C again while stopping
            time.sleep(5)  # the handler runs between bytecodes, well before this ends
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert signal.getsignal(signal.SIGINT) is before
