"""The shop's own vocabulary: derived from a shop the code has never seen (generated here),
plus the owner's lexicon.txt, reaching retrieval on a real LanceDB index."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "knowledge"))

from alpha01.config import KnowledgeSettings  # noqa: E402
from alpha01.knowledge import HashEmbedder, open_kb  # noqa: E402
from alpha01.knowledge.search import full_text_query  # noqa: E402
from alpha01.knowledge.shopwords import derive, faq_paraphrase  # noqa: E402
from alpha01.lexicon import Lexicon  # noqa: E402
from alpha01.paths import Paths  # noqa: E402


def _generated_shop(folder: Path, seed: int) -> dict[str, str]:
    """A pet-grooming shop with made-up service names, an alias column and an FAQ whose
    question and answer use different words. Returns the names it made up."""
    rng = random.Random(seed)
    syllables = "澜岚汐沐芙萝琪珂璃栖"
    made = {
        "service": "".join(rng.sample(syllables, 2)) + "精剪",
        "alias": "".join(rng.sample(syllables, 2)) + "造型",
        "english": f"cut{rng.randint(10, 99)}",
    }
    folder.mkdir()
    (folder / "price.csv").write_text(
        "项目,别名,价格,时长\n"
        f"{made['service']},{made['alias']}、{made['english']},168元,90分钟\n"
        "基础洗护,洗澡,68元,60分钟\n", encoding="utf-8")
    (folder / "faq.csv").write_text(
        "问题,答案\n宠物能一起进来吗,小狗可以进来，需要牵绳。\n", encoding="utf-8")
    (folder / "rules.md").write_text(
        "# 到店须知\n\n## 进店\n\n小狗进来需要牵绳，猫咪请放在航空箱里。\n\n"
        "## 停车\n\n店前有两个车位，最多停十分钟。\n", encoding="utf-8")
    return made


@pytest.fixture
def shop_kb(tmp_path):
    paths = Paths(tmp_path / "home")
    kb = open_kb(paths, KnowledgeSettings(embedder="hash"), embedder=HashEmbedder())
    made = _generated_shop(tmp_path / "shop", seed=11)
    assert not kb.add([tmp_path / "shop"]).failed
    yield kb, made, paths
    kb.close()


def test_aliases_of_a_catalog_row_reach_retrieval(shop_kb):
    kb, made, _ = shop_kb
    lexicon = kb.lexicon
    group = next(g for g in lexicon.aliases if made["service"] in g)
    assert made["alias"] in group and made["english"] in group
    # the customer uses the alias; the index holds the service's name
    question = f"{made['alias']}多少钱"
    assert made["service"] in full_text_query(question, True, lexicon)
    assert made["service"] not in full_text_query(question, True, Lexicon.general())
    top = kb.search(question, k=1)[0]
    assert top.kind == "product" and made["service"] in top.text
    top = kb.search(f"{made['english']} price?", k=1)[0]
    assert made["service"] in top.text


def test_faq_paraphrases_reach_retrieval(shop_kb):
    kb, _, _ = shop_kb
    asked, terms = faq_paraphrase("宠物能一起进来吗", "小狗可以进来，需要牵绳。")
    assert "宠物" in asked and "需要牵绳" in terms
    query = full_text_query("宠物可以进来不", True, kb.lexicon)
    assert "需要牵绳" in query
    texts = [p.text for p in kb.search("宠物可以进来不", k=3)]
    assert any("航空箱" in t for t in texts)  # the rules page, in the FAQ answer's words


def test_a_same_sounding_misspelling_of_a_name_finds_it(shop_kb):
    kb, made, _ = shop_kb
    service = made["service"]
    misspelt = service[:2] + "精简"  # jing jian: the input method's other characters
    assert kb.lexicon.misheard(f"{misspelt}要多久") == [(misspelt, service)]
    assert service in kb.lexicon.alias_names(f"{misspelt}要多久").split()
    top = kb.search(f"{misspelt}要多久", k=1)[0]
    assert service in top.text


def test_the_owners_file_is_read_when_it_changes(shop_kb):
    kb, made, paths = shop_kb
    assert kb.lexicon.alias_names("毛孩子spa多少钱") == ""
    paths.lexicon.write_text("基础洗护, 毛孩子spa\n", encoding="utf-8")
    assert kb.lexicon.alias_names("毛孩子spa多少钱") == "基础洗护"
    assert "基础洗护" in kb.search("毛孩子spa多少钱", k=1)[0].text


def test_nothing_is_derived_from_a_shop_without_catalog_or_faq():
    lexicon = derive([{"kind": "chunk", "meta": "{}", "question": None, "answer": None}])
    assert not lexicon


def test_the_owner_teaches_words_from_the_command_line(tmp_path):
    import os
    import subprocess

    home = tmp_path / "h"
    env = dict(os.environ, ALPHA01_HOME=str(home))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "alpha01.cli", "kb", "words", *args],
                              capture_output=True, text=True, env=env, timeout=60)

    assert "还没有" in run().stdout
    r = run("汤圆", "元宵", "tangyuan")
    assert r.returncode == 0 and "汤圆, 元宵, tangyuan" in r.stdout
    assert run("--typo", "咖非", "咖啡").returncode == 0
    r = run("只有一个")
    assert r.returncode != 0 and "两个说法" in r.stderr
    owner = Lexicon.from_owner_file(home / "lexicon.txt")
    assert owner.aliases == (("汤圆", "元宵", "tangyuan"),)
    assert owner.typos == (("咖非", "咖啡"),)
    assert "汤圆, 元宵, tangyuan" in run().stdout


def test_an_faq_paraphrase_keys_on_the_faqs_own_words_not_on_general_or_widely_used_ones():
    rows = [
        {"kind": "faq", "question": "可以送到外省吗？", "answer": "只做本市配送，不寄快递。"},
        {"kind": "chunk", "text": "六寸蛋糕送到楼下；八寸送到家门口；节日送到时间会晚一些。"},
    ]
    lexicon = derive(rows)
    asked = {w for words, _ in lexicon.topics for w in words}
    assert "外省" in asked  # the FAQ's own word brings in its answer's terms
    assert "送到" not in asked  # general vocabulary, and the documents use it everywhere
    # a word only the documents use widely is not the FAQ's either
    rows[0] = {"kind": "faq", "question": "楼下能停吗？", "answer": "门口有三个临时车位。"}
    rows[1] = {"kind": "chunk", "text": "楼下取货；楼下等候；楼下签收。"}
    asked = {w for words, _ in derive(rows).topics for w in words}
    assert "楼下" not in asked and "能停" in asked
