"""Everyday words customers use for what a shop's documents call something else.

Used to expand the full-text query (the embedder sees the message as typed), and by the guard
to tell a rewording from a new topic: a customer
asks 几点关门 where the intro says 营业时间, 座机 where it says 电话. Generic shop vocabulary,
not any one shop's data; a merchant's own words belong in the FAQ sheet.
"""

from __future__ import annotations

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
    ("过年", "春节", "除夕", "大年", "初一", "初二", "初三", "年三十"): "春节",
    ("国庆", "五一", "劳动节", "中秋", "端午", "清明", "元旦", "节假日", "放假"): "法定节假日",
    ("会员", "vip", "等级", "升级"): "会员",
    ("积分", "积份", "抵扣", "抵钱"): "积分",
    ("付钱", "付款", "支付", "扫码", "现金", "刷卡"): "付款方式",
    ("自提", "自取", "到店拿", "到店取"): "自提",
    ("停车", "停车位", "开车"): "停车",
    ("礼盒", "送礼", "礼品"): "礼盒",
    ("预订", "预定", "订购", "定金"): "预订",
}


def covered_words(data: str) -> str:
    """The everyday words for topics `data` covers under its own name (data says 营业时间:
    开门, 关门, 几点 … are covered too). Used by the guard's unsupported-topic check."""
    low = data.lower()
    return " ".join(w for words, terms in EXPANSIONS.items()
                    if any(t in low for t in terms.split()) for w in words)


def expand(query: str) -> str:
    """Terms to add to a full-text query for `query` (empty when nothing applies)."""
    q = query.lower()
    extra = [terms for words, terms in EXPANSIONS.items() if any(w in q for w in words)]
    return " ".join(dict.fromkeys(" ".join(extra).split()))
