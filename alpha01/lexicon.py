"""Everyday words customers use for what a shop's documents call something else.

Used to expand the full-text query (the embedder sees the message as typed), and by the guard
to tell a rewording from a new topic: a customer
asks 几点关门 where the intro says 营业时间, 座机 where it says 电话. Generic shop vocabulary,
not any one shop's data; a merchant's own words belong in the FAQ sheet.
"""

from __future__ import annotations

import re

# trigger words → terms added to the full-text query
EXPANSIONS: dict[tuple[str, ...], str] = {
    ("几点", "关门", "开门", "打烊", "营业", "上班", "下班", "开到", "开着", "几时"): "营业时间",
    ("在哪", "哪里", "地址", "位置", "怎么走", "咋走", "定位", "门店在"): "地址",
    ("电话", "座机", "号码", "打过去", "联系方式", "热线"): "电话",
    ("运费", "邮费", "送货费", "配送费", "跑腿费"): "配送费",
    ("送货", "外卖", "送到", "送上门", "配送", "送过来", "同城"): "配送",
    ("多少钱", "几块", "咋卖", "怎么卖", "价钱", "价位", "多钱"): "价格",
    ("退钱", "退货", "退款", "退吗", "能退", "退不退"): "退款",
    ("坏了", "烂了", "烂的", "坏果", "破了", "压坏", "变质"): "坏果 售后",
    ("专票", "普票", "开票", "发票", "报销"): "发票",
    ("专票", "增票", "增值税"): "专用发票",
    ("普票",): "普通发票",
    ("过年", "春节", "除夕", "大年", "初一", "初二", "初三", "年三十"): "春节",
    ("周末", "星期六", "星期天", "星期日", "礼拜六", "礼拜天"): "周六 周日",
    ("国庆", "五一", "劳动节", "中秋", "端午", "清明", "元旦", "节假日", "放假"): "法定节假日",
    ("会员", "vip", "等级", "升级"): "会员",
    ("积分", "积份", "抵扣", "抵钱"): "积分",
    ("付钱", "付款", "支付", "扫码", "现金", "刷卡"): "付款方式",
    ("自提", "自取", "到店拿", "到店取"): "自提",
    ("停车", "停车位", "开车"): "停车",
    ("礼盒", "送礼", "礼品"): "礼盒",
    ("预订", "预定", "订购", "定金"): "预订",
    ("装的啥", "装的什么", "装了啥", "装了什么", "里面装", "里面有啥", "里面有什么", "包含"): "内容",
}


# English (and pinyin) words customers mix into Chinese messages → the same terms. Matched as
# whole words, so "ship" is not found inside "membership".
ENGLISH: dict[tuple[str, ...], str] = {
    ("hours", "open", "opens", "opening", "close", "closes", "closing"): "营业时间",
    ("address", "location", "located"): "地址",
    ("phone", "tel", "telephone", "call"): "电话",
    ("shipping fee", "delivery fee", "delivery charge"): "配送费",
    ("ship", "shipping", "deliver", "delivers", "delivery"): "配送",
    ("price", "prices", "how much", "cost", "costs"): "价格",
    ("refund", "refunds", "return", "money back"): "退款",
    ("rotten", "damaged", "broken", "spoiled"): "坏果 售后",
    ("invoice", "receipt", "fapiao"): "发票",
    ("holiday", "holidays"): "法定节假日",
    ("member", "members", "membership"): "会员",
    ("points",): "积分",
    ("pay", "payment", "alipay", "cash"): "付款方式",
    ("pickup", "pick up"): "自提",
    ("parking", "park"): "停车",
    ("gift", "gifts", "gift box"): "礼盒",
    ("preorder", "pre-order", "reserve", "booking", "deposit"): "预订",
}

# Names of the same goods: any one in a message adds the others (common Chinese aliases and
# the English names customers type). Everyday produce vocabulary, not one shop's catalog.
ALIASES: tuple[tuple[str, ...], ...] = (
    ("猕猴桃", "奇异果", "kiwi", "kiwifruit", "kiwis"),
    ("车厘子", "樱桃", "cherry", "cherries"),
    ("牛油果", "鳄梨", "avocado", "avocados"),
    ("菠萝", "凤梨", "pineapple"),
    ("番茄", "西红柿", "tomato", "tomatoes"),
    ("土豆", "马铃薯", "potato", "potatoes"),
    ("红薯", "地瓜", "番薯", "sweet potato"),
    ("龙眼", "桂圆", "longan"),
    ("火龙果", "pitaya", "dragon fruit"),
    ("椰子", "椰青", "coconut"),
    ("柚子", "pomelo", "grapefruit"),
    ("橘子", "桔子", "mandarin", "tangerine"),
    ("橙子", "orange", "oranges"),
    ("苹果", "apple", "apples"),
    ("香蕉", "banana", "bananas"),
    ("草莓", "strawberry", "strawberries"),
    ("蓝莓", "blueberry", "blueberries"),
    ("葡萄", "grape", "grapes"),
    ("西瓜", "watermelon"),
    ("哈密瓜", "cantaloupe", "melon"),
    ("芒果", "mango", "mangoes", "mangos"),
    ("榴莲", "durian"),
    ("荔枝", "lychee", "litchi"),
    ("山竹", "mangosteen"),
    ("百香果", "passion fruit"),
    ("石榴", "pomegranate"),
    ("柠檬", "lemon", "lemons"),
    ("梨子", "pear", "pears"),
    ("桃子", "peach", "peaches"),
    ("李子", "plum", "plums"),
    ("柿子", "persimmon"),
    ("无花果", "fig", "figs"),
    ("枇杷", "loquat"),
    ("杨梅", "bayberry"),
)

# Misspellings customers' input methods commonly produce (same or near sound) → the name.
# One way only: the right name does not bring the misspellings into a search.
TYPOS: dict[str, str] = {
    "车离子": "车厘子", "车里子": "车厘子", "车梨子": "车厘子", "车厘仔": "车厘子",
    "榴连": "榴莲", "流莲": "榴莲", "菠箩": "菠萝", "波萝": "菠萝",
    "蓝梅": "蓝莓", "草梅": "草莓", "弥猴桃": "猕猴桃", "猕候桃": "猕猴桃", "迷猴桃": "猕猴桃",
    "哈蜜瓜": "哈密瓜", "椰清": "椰青", "山竺": "山竹", "火龙国": "火龙果", "百香国": "百香果",
}


def covered_words(data: str) -> str:
    """The everyday words for topics `data` covers under its own name (data says 营业时间:
    开门, 关门, 几点 … are covered too). Used by the guard's unsupported-topic check."""
    low = data.lower()
    return " ".join(w for words, terms in EXPANSIONS.items()
                    if any(t in low for t in terms.split()) for w in words)


def synonyms(query: str) -> list[tuple[str, tuple[str, ...]]]:
    """(a word of `query`, the terms the shop's data may use for it instead) for every
    lexicon entry the query uses."""
    q = query.lower()
    latin = _LATIN.search(q) is not None
    found: list[tuple[str, tuple[str, ...]]] = []
    for words, terms in EXPANSIONS.items():
        found += [(w, tuple(terms.split())) for w in words if w in q]
    if latin:
        for words, terms in ENGLISH.items():
            found += [(w, tuple(terms.split())) for w in words if _has_word(q, w)]
    for names in ALIASES:
        for n in names:
            used = (latin and _has_word(q, n)) if n.isascii() else n in q
            if used:  # the Chinese names stand for it (the index holds Chinese text)
                found.append((n, tuple(m for m in names if m != n and not m.isascii())))
    found += [(typo, (right,)) for typo, right in TYPOS.items() if typo in q]
    return found


def aliases(query: str) -> str:
    """The Chinese names of the goods `query` names by another name or misspells ("avocado" →
    牛油果 鳄梨, 车离子 → 车厘子 樱桃)."""
    asked = query.lower()
    # 车离子 → 车厘子, and then its other names
    found = [right for typo, right in TYPOS.items() if typo in asked]
    q = " ".join([asked, *found])
    latin = _LATIN.search(q) is not None
    for names in ALIASES:
        if any((latin and _has_word(q, n)) if n.isascii() else n in q for n in names):
            found += [n for n in names if not n.isascii() and n not in asked]
    return " ".join(dict.fromkeys(found))


def expand(query: str) -> str:
    """Terms to add to a full-text query for `query` (empty when nothing applies)."""
    return " ".join(dict.fromkeys(t for _, terms in synonyms(query) for t in terms))


_LATIN = re.compile(r"[a-z]{2}")


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
