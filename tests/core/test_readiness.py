"""`alpha01 kb check`: questions drafted from a tiny shop's own rows, answered through the
real answering path (real SQLite, real LanceDB with the hash embedder, no model), nothing
written to the customer tables."""

from __future__ import annotations

import json

from alpha01.app import AppContext
from alpha01.clitext import t
from alpha01.config import Settings
from alpha01.knowledge import open_kb
from alpha01.knowledge.store import TEXT_COLUMNS
from alpha01.paths import Paths
from alpha01.readiness import CUSTOMER_TABLES, draft_questions, pick
from alpha01.storage.db import connect
from alpha01.vault import Vault

from .test_cli import alpha01

FAQ = "问题,答案\n能寄到外省吗,可以，全国包邮，偏远地区加收10元。\n几点关门,晚上八点关门。\n"
PRICES = "名称,售价,产地\n桂花乌龙,45元/两,福建安溪\n陈年普洱饼,260元/饼,云南勐海\n"
GUIDE = "# 退换规则\n\n拆封后不退，未拆封七天内可换。\n\n# 试饮\n\n到店可免费试饮三款。\n"
NOTE = "谢谢惠顾。\n"


def _shop(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in (("faq.csv", FAQ), ("价目.csv", PRICES), ("guide.md", GUIDE),
                       ("note.txt", NOTE)):
        (docs / name).write_text(text, encoding="utf-8")
    home = tmp_path / "h"
    home.mkdir()
    (home / "settings.toml").write_text('[llm]\nbackend = "none"\n[knowledge]\nembedder = "hash"\n',
                                        encoding="utf-8")
    assert alpha01("kb", "add", str(docs), home=home).returncode == 0
    return home


def test_questions_are_drafted_from_each_row_in_its_own_words(tmp_path):
    home = _shop(tmp_path)
    app = AppContext(paths=Paths(home))
    app.settings = Settings.load(home / "settings.toml")
    kb = open_kb(app.paths, app.settings.knowledge)
    try:
        probes = draft_questions(kb.store.rows(columns=TEXT_COLUMNS))
    finally:
        kb.close()
    by_source: dict[str, list[str]] = {}
    for p in probes:
        by_source.setdefault(p.source, []).append(p.question)
    assert all(any(q.endswith(faq) for q in by_source["faq.csv"]) for faq in
               ("能寄到外省吗", "几点关门"))
    for name, price in (("桂花乌龙", "45元/两"), ("陈年普洱饼", "260元/饼")):
        mine = [p for p in probes if p.source == "价目.csv" and name in p.question]
        assert len(mine) >= 2 and price in {p.expect for p in mine}
    assert sorted(by_source["guide.md"]) == sorted(q for q in by_source["guide.md"]
                                                   if "退换规则" in q or "试饮" in q)
    assert len(by_source["guide.md"]) == 2
    assert "note.txt" not in by_source  # nothing to ask of a thank-you line
    # a limit still asks every document
    assert {p.source for p in pick(probes, 3)} == {"faq.csv", "价目.csv", "guide.md"}


def test_kb_check_scores_the_shop_and_writes_nothing(tmp_path):
    home = _shop(tmp_path)
    r = alpha01("kb", "check", "--json", home=home, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    verdicts = {x["question"]: x["verdict"] for x in report["results"]}
    assert verdicts["几点关门"] == "answered" and verdicts["桂花乌龙多少钱？"] == "answered"
    # no model: the document sections can only be handed to the owner, and say so
    assert verdicts["想问一下试饮"] == "handoff" and report["model"] is False
    assert 0 < report["score"] < 100
    assert report["score"] == round(100 * report["answered"] / report["questions"])
    docs = {d["source"]: d for d in report["documents"]}
    assert docs["guide.md"]["thin"] and docs["note.txt"]["thin"] and not docs["faq.csv"]["thin"]
    assert any("guide.md" in f for f in report["fixes"])
    assert any("note.txt" in f for f in report["fixes"])
    assert report["written"] == dict.fromkeys(CUSTOMER_TABLES, 0)
    conn = connect(home / "alpha01.db", key=Vault(home).database_key())
    counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CUSTOMER_TABLES]
    conn.close()
    assert counts == [0] * len(CUSTOMER_TABLES)
    text = alpha01("kb", "check", home=home, timeout=120)
    assert text.returncode == 0 and f"{report['score']}/100" in text.stdout
    assert t("kbc.no_model") in text.stdout
