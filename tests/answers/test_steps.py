"""Named steps after the model that this stop added: a reply that restates two lines by their
words, the row of the customer's range (before the deep-line rule, and when the reply rests on
no line), the cheapest/dearest row of a price table, and retrieval keeping the one rare word of
a question. Made-up shops only (a noodle bar, a flower shop)."""

from __future__ import annotations

from alpha01.config import KnowledgeSettings
from alpha01.domain import Action, Passage
from alpha01.pipeline import evidence, generation
from alpha01.pipeline.retrieval import Found, MemoryRetriever, rare_words, retrieve
from tests.llm.test_evidence import _generate

MENU = Passage(text="", source="menu.csv", score=0.5, kind="product",
               meta={"name": "酸辣粉", "fields": {"品名": "酸辣粉", "价格(元)": "16",
                                                  "备注": "含花生碎，可备注不要"}})
ALLERGY = Passage(
    text=("过敏原说明 > 三、过敏原\n面和浇头都在一个后厨里做，没法保证哪一碗都不含花生。\n"
          "花生过敏特别严重的朋友请慎重点单，下单时可以备注不要花生碎。"),
    source="policy.docx", score=0.5)


def test_a_second_line_restated_by_its_words_alone_is_sent_too():
    reply = "抱歉，我们没法保证都不含花生。花生过敏特别严重的朋友请慎重点单。"
    question = "花生过敏的人能吃吗 确定完全没有花生？"
    lines = evidence.split(ALLERGY)
    assert evidence.words_added(reply, lines[0], [lines[1]], question) >= generation.WORDS_ADDED
    d = _generate(reply, [ALLERGY], question)
    assert d.action == Action.RESPOND
    assert "后厨" in d.reply and "慎重点单" in d.reply


ZONES = Passage(
    text=("配送说明 > 配送范围\n一档：4公里以内，配送费7元\n二档：4-9公里，配送费13元\n"
          "三档：9-14公里，配送费28元，满260元才送\n超过14公里不送。\n"
          "鲜花需要当天配送，不能隔夜。\n节假日配送可能延迟。\n"
          "一档订单满158元免配送费。\n二档订单满238元免配送费。"),
    source="delivery.txt", score=0.5)


def test_a_neighbouring_range_row_far_down_is_replaced_not_handed_off():
    question = "住在3公里外 满多少钱不收配送费"
    lines = evidence.select(question, [ZONES], max_chars=700)
    far = [e for e in lines if e.text.startswith("三档")]
    assert far and lines.index(far[0]) >= 0
    shown = [e for e in lines if not e.text.startswith("三档")][:generation.DEEP_LINE] + far
    d = _generate("三档订单满260元。", [ZONES], question, shown=shown)
    assert d.action == Action.RESPOND and d.trace["step"] == "range_row"
    assert d.reply.splitlines()[0] == "一档：4公里以内，配送费7元。"


BOXES = Passage(
    text=("礼品花束 > 价目\n花束 | 价格 | 内容\n心意花束 | 99元 | 向日葵3枝\n"
          "浪漫花束 | 199元 | 红玫瑰11枝\n臻爱花束 | 520元 | 红玫瑰33枝\n"
          "花束需要提前1天预订。"),
    source="flowers.pdf", score=0.5)


def test_the_cheapest_and_the_dearest_row_come_from_the_table_not_the_models_pick():
    d = _generate("浪漫花束199元。", [BOXES], "花束最便宜的多少钱")
    assert d.trace["step"] == "priced_extreme" and d.reply.startswith("心意花束")
    d = _generate("心意花束99元。", [BOXES], "最贵的花束是哪个")
    assert d.reply.startswith("臻爱花束")
    # no superlative: the model's pick stands
    d = _generate("浪漫花束199元。", [BOXES], "红玫瑰的花束多少钱")
    assert d.trace["step"] != "priced_extreme"


def test_a_price_table_the_question_does_not_name_gives_no_extreme():
    lines = evidence.select("最便宜的配送费", [BOXES, ZONES], max_chars=700)
    found = Found([BOXES, ZONES], lines, evidence.resolve(None), None)
    assert generation.priced_extreme("最便宜的配送费", found) is None


def test_the_one_rare_word_of_a_question_keeps_its_passage():
    common = [Passage(text=f"常见问题 > 第{i}条\n下单后多少钱都可以提前预订，提前多久都行。",
                      source=f"faq{i}.md", score=0.9 - i / 100) for i in range(5)]
    rare = Passage(text="价目 > 大号\n大号花篮 388元，至少提前3天预订。", source="price.md", score=0.3)
    assert rare_words("大号的多少钱 提前多久订", common[:4], common[4:] + [rare]) == [rare]
    # a question word (多久) or a word the top passages have is no reason to add one
    assert rare_words("多久能好", common[:4], [rare]) == []
    shop = MemoryRetriever([*common, rare])
    found = retrieve(shop, "大号的多少钱 提前多久订", KnowledgeSettings(top_k=2))
    assert rare.text in [p.text for p in found.passages]


def test_the_row_of_the_customers_quantity_answers_when_the_reply_rests_on_no_line():
    d = _generate("您好，这个要看具体情况哦。", [ZONES], "住在3公里外 满多少钱包邮")
    assert d.action == Action.RESPOND and d.trace["step"] == "range_row"
    # a code written in Chinese numerals (一档) brings its own rule for the question
    assert d.reply.splitlines() == ["一档：4公里以内，配送费7元。", "配送范围：一档订单满158元免配送费。"]
    # no quantity, no row: the owner answers
    d = _generate("您好，这个要看具体情况哦。", [ZONES], "满多少钱包邮")
    assert d.action == Action.HANDOFF


def test_a_list_items_own_ending_is_not_left_before_the_full_stop():
    rule = evidence.Evidence("二档订单实付满238元免配送费；", "免配送费", "d.txt", 0)
    assert evidence.speak(rule) == "二档订单实付满238元免配送费。"


# A tea house's lines as retrieval ranked them for a question about booking a room: the best
# line scores far above the one the model copied.
ROOM = evidence.Evidence("包间需要提前2小时预约，下午场13:00-17:00。", "问：包间要预约吗", "faq.xlsx", 0,
                         score=0.62, faq=True)
TEA_SALE = evidence.Evidence("每天下午4点以后，当天的现泡奶茶第二杯半价。", "问：下午有优惠吗", "faq.xlsx", 1,
                             score=0.24, faq=True)
PARKING = evidence.Evidence("楼下有4个免费车位，先到先停。", "交通", "intro.md", 2, score=0.2)


def _pick(reply, question, lines):
    passages = [Passage(e.text, e.source, e.score) for e in lines]
    return _generate(reply, passages, question, shown=list(lines))


def test_a_weak_pick_that_shares_only_the_time_of_day_gives_way_to_the_best_line():
    d = _pick("下午想订包间，现泡奶茶第二杯半价。", "下午四点多想订个包间 要预约吗",
              [ROOM, TEA_SALE, PARKING])
    assert d.action == Action.RESPOND and d.trace["step"] == "weak_pick"
    assert d.reply == "包间需要提前2小时预约，下午场13:00-17:00。"
    assert d.trace["overruled"] and "半价" in d.trace["overruled"][0]


def test_a_pick_with_a_word_of_the_question_the_best_line_lacks_stands():
    # the customer asks about the discount: 优惠 is the picked line's, not the best line's
    d = _pick("每天下午4点以后，现泡奶茶第二杯半价。", "下午订包间的话奶茶有优惠吗",
              [ROOM, TEA_SALE, PARKING])
    assert d.trace["step"] != "weak_pick"
    assert "半价" in d.reply


def test_a_pick_close_to_the_best_score_stands():
    close = evidence.Evidence(TEA_SALE.text, TEA_SALE.heading, TEA_SALE.source, 1,
                              score=ROOM.score * (generation.WEAK_PICK + 0.1), faq=True)
    d = _pick("下午想订包间，现泡奶茶第二杯半价。", "下午四点多想订个包间 要预约吗",
              [ROOM, close, PARKING])
    assert d.trace["step"] != "weak_pick" and "半价" in d.reply


def test_a_best_line_that_shares_no_word_of_the_question_does_not_overrule():
    unrelated = evidence.Evidence("会员每月8日积分翻倍。", "会员", "policy.docx", 0, score=0.7)
    d = _pick("楼下有4个免费车位。", "开车来 停哪里", [unrelated, TEA_SALE, PARKING])
    assert d.trace.get("step") != "weak_pick"


def test_a_reply_that_repeats_the_question_and_adds_the_lines_words_restates_that_line():
    gift = Passage("茶包说明\n每单都免费附赠两个茶包，喝完可以再要。\n茶包单买5元一个。", "faq.md", 0.5)
    question = "茶包要另外收钱吗"
    reply = "茶包免费附赠，茶包不用另外收钱。"
    line = [e for e in evidence.split(gift) if "附赠" in e.text][0]
    assert evidence.share(reply, line) < 0.5 <= evidence.own_share(reply, line, question)
    d = _generate(reply, [gift], question)
    assert d.action == Action.RESPOND and d.trace["step"] == "restated"
    assert "每单都免费附赠两个茶包" in d.reply and "5元" not in d.reply
    # the customer's words alone tie a reply to no line
    assert evidence.own_share("茶包要另外收钱。", line, question) == 0.0


PAYING = Passage(
    text=("面馆介绍 > 门店信息\n- 地址：松针路7号\n- 付款：微信、支付宝、银行卡都可以\n"
          "外卖说明\n满30元起送，配送费4元。"),
    source="intro.md", score=0.5)


def test_a_yes_that_only_repeats_the_question_gets_the_line_that_answers_it():
    # "可以刷卡" says which way but not the shop's terms (银行卡): as bare as "可以"
    assert evidence.echo("可以刷卡。", "可以刷卡吗") and not evidence.echo("可以用银行卡。", "可以刷卡吗")
    assert not evidence.echo("可以，满30元起送。", "可以送吗")  # a figure of the shop's own
    from alpha01.lexicon import Lexicon

    lines = evidence.select("可以刷卡吗", [PAYING], max_chars=700, lexicon=Lexicon.general())
    assert lines[0].text.startswith("付款")
    d = _generate("可以刷卡。", [PAYING], "可以刷卡吗")
    assert d.action == Action.RESPOND and d.trace["step"] == "clear_top"
    assert d.reply == "付款：微信、支付宝、银行卡都可以。"


def test_a_repeated_question_about_something_the_shop_never_mentions_is_handed_off():
    d = _generate("可以带狗进店。", [PAYING], "可以带狗进店吗")
    assert d.action == Action.HANDOFF


PICKUP = Passage(
    text=("面馆介绍 > 到店自取\n到店自取请报下单手机号后4位，过了约定时间面会放在保温柜里。\n"
          "恶劣天气\n遇到暴雨、台风，外卖可能延迟，也可以改成到店自取。"),
    source="intro.md", score=0.5)


def test_a_reply_that_forecasts_the_weather_is_the_owners_to_answer():
    # the model answered "will it rain tomorrow" itself, then restated a real line
    d = _generate("明天会下雨，建议您到店自取，报下单手机号后4位就可以。", [PICKUP],
                  "明天会下雨吗？下雨的话改成自取")
    assert d.action == Action.HANDOFF and d.trace["step"] == "attack"
    assert any(r.startswith("blocked:forecast") for r in d.trace["guard"])
