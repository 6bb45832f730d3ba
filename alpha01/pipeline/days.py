"""Days: which days of the week, of the new year or which holidays a text speaks of.

Opening hours, delivery slots and holiday closures are the questions every shop gets, and a
shop writes them as day spans: "周一至周四 10:00-19:00", "周五、周六", "春节期间（除夕至初七）
闭店，初八起正常营业", "法定节假日 11:00-18:00". A customer asks about one day ("礼拜五几点
打烊", "初五开门吗", "平时几点关", "五一开不开"). `days(text)` turns both into sets of day
keys, so the line whose span holds the customer's day can be told from its neighbours (the
other weekdays' row, a Friday offer) without a model:

- weekdays "w1" … "w7" (周一/星期一/礼拜一 … 周日/星期天), ranges (周一至周四, 周五到周一) and
  the usual words (周末, 工作日, 平时, 每天);
- the Spring Festival days "ny0" (除夕) … "ny15" (正月十五), their ranges ("除夕至初五") and
  "初六起" (from that day on); 春节 / 过年 on their own are its first week;
- public holidays: "hol" for every one of them (节假日, 法定节假日), and the holiday's own key
  beside it (国庆 → "hol", "hol:国庆").
"""

from __future__ import annotations

import re

_CN = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
       "十": 10, "日": 7, "天": 7}
WEEK = frozenset(f"w{i}" for i in range(1, 8))
_WORKDAYS = frozenset(f"w{i}" for i in range(1, 6))
_WEEKEND = frozenset({"w6", "w7"})
_NEW_YEAR_WEEK = frozenset(f"ny{i}" for i in range(0, 8))
_NEW_YEAR_LAST = 15

_WEEKDAY = r"(?:周|星期|礼拜)([一二三四五六日天])"
_RANGE_SEP = r"\s*(?:至|到|~|～|-|—|－)\s*"
_WEEK_RANGE = re.compile(_WEEKDAY + _RANGE_SEP + _WEEKDAY)
# 周六日 / 周六周日 / 周六、周日: a list, each day its own
_WEEK_DAY = re.compile(_WEEKDAY + r"(日(?![期子常]))?")
_WEEK_WORDS = {"周末": _WEEKEND, "双休日": _WEEKEND, "工作日": _WORKDAYS, "平时": _WORKDAYS,
               "平日": _WORKDAYS, "每天": WEEK, "每日": WEEK, "天天": WEEK, "全年无休": WEEK}

# 除夕 / 年三十 / 大年三十 → 0; 初一 … 初十, 正月初八, 大年初五 → 1 … 10; 正月十五 → 15
_NY_DAY = r"(除夕|(?:大)?年三十|(?:正月|大年)?初([一二三四五六七八九十])|正月(十[一二三四五]?))"
_NY_RANGE = re.compile(_NY_DAY + _RANGE_SEP + _NY_DAY)
_NY_FROM = re.compile(_NY_DAY + r"\s*(?:起|开始|以后|之后)")
_NY_ONE = re.compile(_NY_DAY)
_NY_WORDS = re.compile(r"春节|过年|新年|年假")

_HOLIDAYS = {
    "国庆": ("国庆", "十一黄金周", "十一假期", "十一长假"),
    "五一": ("五一", "劳动节"),
    "元旦": ("元旦",),
    "中秋": ("中秋",),
    "端午": ("端午",),
    "清明": ("清明",),
}
_HOLIDAY_WORDS = re.compile(r"节假日|节日|假日|假期|放假|黄金周|小长假|长假")


def _weekday(ch: str) -> int:
    return _CN[ch]


def _week_span(a: int, b: int) -> set[str]:
    """周五到周一 wraps around the weekend."""
    out, d = set(), a
    for _ in range(7):
        out.add(f"w{d}")
        if d == b:
            break
        d = d % 7 + 1
    return out


def _ny_number(m: re.Match[str], offset: int = 0) -> int:
    whole, day, fifteen = m.group(1 + offset), m.group(2 + offset), m.group(3 + offset)
    if whole in ("除夕", "年三十", "大年三十"):
        return 0
    if day:
        return _CN[day]
    if fifteen:
        return 10 + (_CN[fifteen[1]] if len(fifteen) > 1 else 0)
    return 0


def days(text: str) -> frozenset[str]:
    """The day keys `text` speaks of (see the module docstring); empty when it names none."""
    out: set[str] = set()
    rest = text
    for m in _WEEK_RANGE.finditer(text):
        out |= _week_span(_weekday(m.group(1)), _weekday(m.group(2)))
    rest = _WEEK_RANGE.sub(" ", rest)
    for m in _WEEK_DAY.finditer(rest):
        out.add(f"w{_weekday(m.group(1))}")
        if m.group(2):
            out.add("w7")
    for word, span in _WEEK_WORDS.items():
        if word in text:
            out |= span

    rest = text
    for m in _NY_RANGE.finditer(rest):
        a, b = _ny_number(m), _ny_number(m, 3)
        out |= {f"ny{i}" for i in range(a, max(a, b) + 1)}
    rest = _NY_RANGE.sub(" ", rest)
    for m in _NY_FROM.finditer(rest):
        out |= {f"ny{i}" for i in range(_ny_number(m), _NEW_YEAR_LAST + 1)}
    rest = _NY_FROM.sub(" ", rest)
    for m in _NY_ONE.finditer(rest):
        out.add(f"ny{_ny_number(m)}")
    if _NY_WORDS.search(text):
        out |= _NEW_YEAR_WEEK

    for key, words in _HOLIDAYS.items():
        if any(w in text for w in words):
            out |= {"hol", f"hol:{key}"}
    if _HOLIDAY_WORDS.search(text):
        out.add("hol")
    return frozenset(out)


def specific(asked: frozenset[str]) -> frozenset[str]:
    """The keys that name a day of their own: every one but the bare "any holiday"."""
    return frozenset(k for k in asked if k != "hol") or asked
