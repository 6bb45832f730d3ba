"""What kind of question a customer is asking, from its words alone (no model)."""

from __future__ import annotations

import re
import unicodedata

# Asking what something costs, whether it is in stock, its size or origin: the catalog row.
_CATALOG = re.compile(
    r"多少钱|几块|几元|多钱|价格|价钱|价位|单价|售价|咋卖|怎么卖|怎样卖|卖多少|贵不贵|有货|没货|"
    r"有没有货|库存|现货|到货|还有吗|还剩|剩多少|剩几|规格|产地|哪产|哪里产|哪儿产|产自|原产|进口|国产|"
    r"price|how much|in stock"
)


def catalog_intent(text: str) -> bool:
    return bool(_CATALOG.search(unicodedata.normalize("NFKC", text or "").lower()))


def without_catalog_words(text: str) -> str:
    """`text` with the catalog-intent words (多少钱, 有货…) blanked: what is left is the topic."""
    return _CATALOG.sub(" ", text)
