"""Chat screenshots drawn like WeChat's PC chat panel, with known text, for the OCR fallback.

The panel: the chat's name in a title bar, a grey message area, the customer's white bubbles
behind an avatar on the left, our green bubbles on the right, centred time separators, long
messages wrapped. Text is drawn with WenQuanYi Micro Hei and emoji with Noto Color Emoji (both
from Debian: scripts/test-deps installs fonts-wqy-microhei and fonts-noto-color-emoji).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")

WIDTH = 720
TITLE_H = 56
BG = (245, 245, 245)
TITLE_BG = (237, 237, 237)
FRIEND_BG = (255, 255, 255)
SELF_BG = (149, 236, 105)
TEXT = (25, 25, 25)
TIME_TEXT = (150, 150, 150)
FONT_PX = 22
AVATAR = 40
MAX_BUBBLE_TEXT = 360  # px of text per bubble line before wrapping

# Pieces the generated messages are made of: shop talk with numbers, English and emoji; no
# shop's goods (neutral products, made-up numbers).
OPENERS = ["你好", "在吗", "老板好", "请问", "您好", "麻烦问下", "早上好", "打扰一下"]
ASKS = ["这个多少钱", "今天能发货吗", "有优惠吗", "明天几点开门", "可以便宜点吗",
        "还有库存吗", "能送到小区门口吗", "周末营业吗", "支持微信支付吗", "怎么退换"]
ANSWERS = ["有的，现货充足", "今天下午4点前下单当天发", "满99减10", "早上8点半开门",
           "可以，送到门口", "周末正常营业", "支持微信和支付宝", "7天内可以退换",
           "已经帮您登记了", "稍等，我查一下"]
NUMBERS = ["订单号20260307118", "电话13812345678", "一共3件", "合计128.5元", "第2份半价",
           "发票抬头ABC", "尾号4821", "12月8号", "5斤装", "编号A-207"]
EMOJI = ["😊", "👍", "🙏", "🎉", "😂", "❤️"]
TIMES = ["09:12", "昨天 18:40", "10:05", "星期二 14:22", "11:30", "12月6日 20:15"]


@dataclass
class Line:
    side: str  # friend | self | time
    text: str


@cache
def fonts():
    from PIL import ImageFont

    return (ImageFont.truetype(str(CJK_FONT), FONT_PX), ImageFont.truetype(str(CJK_FONT), 15),
            ImageFont.truetype(str(CJK_FONT), 18),
            ImageFont.truetype(str(EMOJI_FONT), 109) if EMOJI_FONT.exists() else None)


def fonts_present() -> bool:
    return CJK_FONT.exists() and EMOJI_FONT.exists()


def conversation(seed: int, n: int = 7) -> list[Line]:
    """A made-up exchange: both sides, Chinese with numbers, English and emoji mixed in."""
    rnd = random.Random(seed)
    lines = [Line("time", rnd.choice(TIMES))]
    for i in range(n):
        side = "friend" if i % 2 == 0 or rnd.random() < 0.2 else "self"
        if side == "friend":
            parts = [rnd.choice(OPENERS) + "，" if rnd.random() < 0.4 else "", rnd.choice(ASKS)]
            if rnd.random() < 0.4:
                parts.append("，" + rnd.choice(NUMBERS))
            parts.append(rnd.choice(["？", "", "?"]))
        else:
            parts = [rnd.choice(ANSWERS)]
            if rnd.random() < 0.5:
                parts.append("，" + rnd.choice(NUMBERS))
        if rnd.random() < 0.3:
            parts.append(rnd.choice(EMOJI))
        if rnd.random() < 0.15:  # a long one that wraps
            parts.append("，" + rnd.choice(ANSWERS if side == "self" else ASKS) + "，"
                         + rnd.choice(NUMBERS) + "，OK")
        lines.append(Line(side, "".join(parts)))
        if i == n // 2 and rnd.random() < 0.5:
            lines.append(Line("time", rnd.choice(TIMES)))
    return lines


def _is_emoji(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or ch in "\u2764\ufe0f"


def _runs(text: str) -> list[tuple[bool, str]]:
    runs: list[tuple[bool, str]] = []
    for ch in text:
        emo = _is_emoji(ch)
        if ch == "\ufe0f":
            continue
        if runs and runs[-1][0] == emo and not emo:
            runs[-1] = (emo, runs[-1][1] + ch)
        else:
            runs.append((emo, ch))
    return runs


def _width(text: str) -> int:
    font = fonts()[0]
    return sum(FONT_PX + 2 if emo else int(font.getlength(t)) for emo, t in _runs(text))


def _wrap(text: str) -> list[str]:
    rows, row = [], ""
    for ch in text:
        if _width(row + ch) > MAX_BUBBLE_TEXT and row:
            rows.append(row)
            row = ""
        row += ch
    return rows + [row] if row else rows


def _emoji(ch: str):
    from PIL import Image, ImageDraw

    font = fonts()[3]
    tile = Image.new("RGBA", (136, 128), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((0, 0), ch, font=font, embedded_color=True)
    return tile.crop(tile.getbbox() or (0, 0, 1, 1)).resize((FONT_PX, FONT_PX))


def _draw_text(img, draw, x: int, y: int, text: str) -> None:
    font = fonts()[0]
    for emo, run in _runs(text):
        if emo:
            tile = _emoji(run)
            img.paste(tile, (x, y + 3), tile)
            x += FONT_PX + 2
        else:
            draw.text((x, y), run, font=font, fill=TEXT)
            x += int(font.getlength(run))


def render(title: str, lines: list[Line]):
    """The chat panel as a PIL image (RGB)."""
    from PIL import Image, ImageDraw

    font, small, title_font, _ = fonts()
    line_h = FONT_PX + 8
    height = TITLE_H + 20
    for ln in lines:
        height += 36 if ln.side == "time" else max(AVATAR, len(_wrap(ln.text)) * line_h + 20) + 18
    img = Image.new("RGB", (WIDTH, height + 20), BG)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, WIDTH, TITLE_H), fill=TITLE_BG)
    draw.text((24, 16), title, font=title_font, fill=TEXT)
    draw.line((0, TITLE_H, WIDTH, TITLE_H), fill=(220, 220, 220))
    y = TITLE_H + 20
    for ln in lines:
        if ln.side == "time":
            w = int(small.getlength(ln.text))
            draw.text(((WIDTH - w) // 2, y + 6), ln.text, font=small, fill=TIME_TEXT)
            y += 36
            continue
        rows = _wrap(ln.text)
        w = max(_width(r) for r in rows) + 24
        h = len(rows) * line_h + 20
        if ln.side == "friend":
            draw.rectangle((20, y, 20 + AVATAR, y + AVATAR), fill=(120, 160, 200))
            x0 = 20 + AVATAR + 12
            fill = FRIEND_BG
        else:
            draw.rectangle((WIDTH - 20 - AVATAR, y, WIDTH - 20, y + AVATAR), fill=(200, 150, 90))
            x0 = WIDTH - 20 - AVATAR - 12 - w
            fill = SELF_BG
        draw.rounded_rectangle((x0, y, x0 + w, y + h), radius=6, fill=fill)
        for i, row in enumerate(rows):
            _draw_text(img, draw, x0 + 12, y + 10 + i * line_h, row)
        y += max(AVATAR, h) + 18
    return img


def screens(n: int, seed: int = 2026) -> list[tuple[str, list[Line], object]]:
    """n (title, lines, image) screens with made-up customer names."""
    rnd = random.Random(seed)
    names = ["王先生", "李女士", "小陈", "阿May", "老张2号", "周周", "Tony", "赵阿姨"]
    out = []
    for i in range(n):
        title = rnd.choice(names)
        lines = conversation(seed + i, n=rnd.randint(5, 8))
        out.append((title, lines, render(title, lines)))
    return out
