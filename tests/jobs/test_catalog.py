"""Catalog sync updates the answers; a bad catalog changes nothing and is retried."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from alpha01.config import KnowledgeSettings
from alpha01.jobs.runner import JobRunner
from alpha01.llm.fake import FakeLLM

pytest.importorskip("lancedb")

PRODUCTS = "商品,规格,价格\n台农芒果,1斤,12.8元/斤\n东港草莓,2斤/盒,66元/盒\n"


class PriceLLM(FakeLLM):
    """Answers with the price it finds in the passages it was given (as a grounded model)."""

    def complete(self, messages, **kw):
        prompt = "\n".join(m["content"] for m in messages)
        found = re.search(r"台农芒果[^\n]*?价格：([\d.]+元/斤)", prompt)
        self.default = f"台农芒果{found.group(1)}。" if found else "这个我确认一下。"
        return super().complete(messages, **kw)


@pytest.fixture
def kb_shop(shop, tmp_path):
    from alpha01.knowledge import HashEmbedder, open_kb
    from alpha01.paths import Paths

    home = tmp_path / "home"
    kb = open_kb(Paths(home), KnowledgeSettings(embedder="hash"), embedder=HashEmbedder())
    (tmp_path / "products.csv").write_text(PRODUCTS, encoding="utf-8")
    kb.upsert_products([{"商品": "台农芒果", "规格": "1斤", "价格": "12.8元/斤"},
                        {"商品": "东港草莓", "规格": "2斤/盒", "价格": "66元/盒"}], "erp-catalog")
    engine, channel, clock, app = shop(retriever=kb, llm=PriceLLM(), home=home)
    return engine, app, clock, kb


def _catalog_job(engine, runner, source):
    with engine.store.tx():
        jid = engine.store.add_job(name="ERP同步", kind="catalog", schedule="every:1h",
                                   params={"source": source}, misfire_grace_s=3600,
                                   coalesce=True, now=runner.clock.now())
    return runner.job(jid)


def test_catalog_sync_from_a_file_changes_the_price_in_answers(kb_shop, tmp_path):
    engine, app, clock, kb = kb_shop
    before = engine.ask("台农芒果多少钱一斤？")
    assert "12.8" in before.reply
    path = tmp_path / "erp.csv"
    path.write_text("商品,规格,价格\n台农芒果,1斤,15.8元/斤\n东港草莓,2斤/盒,66元/盒\n",
                    encoding="utf-8")
    runner = JobRunner(settings=app.settings, paths=app.paths, store=engine.store, clock=clock,
                       kb=kb)
    result = runner.run(_catalog_job(engine, runner, str(path)))
    assert result.status == "ok"
    assert result.result["price_changes"] == [
        {"name": "台农芒果", "old_price": "12.8元/斤", "new_price": "15.8元/斤"}]
    after = engine.ask("台农芒果多少钱一斤？")
    assert "15.8" in after.reply and "12.8" not in after.reply


@pytest.mark.parametrize("body, why", [
    ("商品,规格\n台农芒果,1斤\n", "missing the price"),
    ("商品,价格\n台农芒果,15.8元/斤\n东港草莓,面议\n", "bad price '面议'"),
])
def test_a_bad_catalog_is_an_error_and_applies_nothing(kb_shop, tmp_path, body, why):
    engine, app, clock, kb = kb_shop
    path = tmp_path / "erp.csv"
    path.write_text(body, encoding="utf-8")
    runner = JobRunner(settings=app.settings, paths=app.paths, store=engine.store, clock=clock,
                       kb=kb)
    job = _catalog_job(engine, runner, str(path))
    result = runner.run(job, clock.now())
    assert result.status == "error" and why in result.error
    assert "12.8" in engine.ask("台农芒果多少钱一斤？").reply
    assert engine.store.run_by_key(result.run_key)["error"] == result.error
    path.write_text("商品,价格\n台农芒果,13.8元/斤\n", encoding="utf-8")  # fixed by next run
    clock.advance(3600)
    assert runner.run(job, clock.now()).status == "ok"
    assert "13.8" in engine.ask("台农芒果多少钱一斤？").reply


def test_catalog_from_a_url_json_and_an_unreachable_url(kb_shop):
    engine, app, clock, kb = kb_shop

    def erp(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.example":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"products": [
            {"name": "台农芒果", "price": "9.9元/斤"}]})

    runner = JobRunner(settings=app.settings, paths=app.paths, store=engine.store, clock=clock,
                       kb=kb, http_transport=httpx.MockTransport(erp))
    bad = runner.run(_catalog_job(engine, runner, "https://down.example/export"))
    assert bad.status == "error" and "unreachable" in bad.error
    with engine.store.tx():
        jid = engine.store.add_job(name="ERP-JSON", kind="catalog", schedule="every:1h",
                                   params={"source": "https://erp.example/products.json",
                                           "name": "erp-json"},
                                   misfire_grace_s=60, coalesce=True, now=clock.now())
    ok = runner.run(runner.job(jid))
    assert ok.status == "ok" and ok.result["products"] == 1
    assert json.dumps(ok.result, ensure_ascii=False).count("9.9") == 0  # a new catalog: added
    assert ok.result["added"] == 1
