"""The OCR fallback: reading a WeChat chat from a picture of its window when the UI tree is gone.

WeChat 4.x exposes little of its UI tree and a locked or redrawn desktop can empty it. Then the
chat panel is still on screen: `ChatReader` reads a capture of it with RapidOCR (ONNX models
bundled in the PyPI wheel, runs offline; `pip install 'alpha01[ocr]'`) and turns it into
message objects shaped like the library's (attr, type, content, id, sender, time), which the
channel composes into durable keys through the same ChatLog and hands to the same intake.

Layout rules (WeChat's PC chat panel, 3.9 and 4.x alike): the chat's name in a title bar at the
top; the customer's bubbles on the left (white), ours on the right (green); time separators
centred with no bubble; a long message wraps inside one bubble. A line of text belongs to:
- a time separator when the pixels just outside its box, left and right, are the panel's
  background (no bubble around it);
- our side when the bubble around it is green, else the customer's; when the bubble colour is
  unclear, the side of the panel its box is on;
- the bubble above it when the bubble's colour runs unbroken between the two boxes.

rapidocr and numpy are imported lazily: the core imports without them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ...errors import ChannelUnavailable

log = logging.getLogger("alpha01.wechat")

MIN_SCORE = 0.5  # OCR lines less certain than this are dropped
PAD = 5  # px outside a text box where its bubble's colour is sampled
BG_TOL = 4  # the panel background, within this much per channel (a white bubble is ~10 off)


@dataclass(slots=True)
class OcrMessage:
    """One message read off the screen, with the attributes the channel reads."""

    attr: str  # friend | self | time
    content: str
    sender: str
    type: str = "text"
    id: str | None = None
    time: str = ""
    top: int = 0


@dataclass
class ChatScreen:
    title: str
    messages: list[OcrMessage] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(slots=True)
class _Box:
    x0: int
    y0: int
    x1: int
    y1: int
    text: str
    side: str = ""


class ChatReader:
    """Reads one chat panel picture (PIL image or RGB array) into a ChatScreen."""

    def __init__(self, engine: Any = None) -> None:
        self._engine = engine

    @property
    def engine(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                raise ChannelUnavailable(
                    "the OCR fallback needs rapidocr (pip install 'alpha01[ocr]')") from exc
            self._engine = RapidOCR(params={"Global.log_level": "error",
                                            "Global.use_cls": False})
        return self._engine

    def read(self, image: Any) -> ChatScreen:
        import numpy as np

        started = time.perf_counter()
        px = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
        if px.ndim != 3 or px.shape[0] < 40 or px.shape[1] < 100:
            raise ValueError(f"not a chat panel picture: shape {px.shape}")
        result = self.engine(px)
        boxes = []
        for pts, text, score in zip(result.boxes if result.boxes is not None else [],
                                    result.txts or (), result.scores or (), strict=False):
            if float(score) < MIN_SCORE or not any(ch.isalnum() for ch in str(text)):
                continue  # unsure, or a lone emoji read as a symbol
            xs, ys = [int(p[0]) for p in pts], [int(p[1]) for p in pts]
            boxes.append(_Box(min(xs), min(ys), max(xs), max(ys), str(text).strip()))
        boxes.sort(key=lambda b: (b.y0, b.x0))
        bar = _title_bar_end(px)
        title = " ".join(b.text for b in boxes if b.y1 <= bar + 2)
        body = [b for b in boxes if b.y0 > bar]
        bg = _panel_background(px, bar)
        for b in body:
            b.side = _side(px, b, bg)
        messages: list[OcrMessage] = []
        prev: _Box | None = None
        for b in body:
            if (prev is not None and messages and b.side == prev.side != "time"
                    and _same_bubble(px, prev, b, bg)):
                messages[-1].content += b.text
            elif b.side == "time":
                messages.append(OcrMessage("time", b.text, "system", type="", top=b.y0))
            else:
                messages.append(OcrMessage(b.side, b.text, title if b.side == "friend"
                                           else "self", top=b.y0))
            prev = b
        return ChatScreen(title, messages, time.perf_counter() - started)


def _close(a: Any, b: Any, tol: int = 10) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b, strict=False))


def _title_bar_end(px: Any) -> int:
    """The last row of the title bar: where the colour of the top-left corner first changes."""
    top = px[2, 2]
    for y in range(2, min(px.shape[0], 200)):
        row = px[y, : px.shape[1] // 2]
        if (abs(row.astype(int) - top.astype(int)).max(axis=1) > 12).mean() > 0.9:
            return y
    return 0


def _panel_background(px: Any, bar: int) -> Any:
    y = min(px.shape[0] - 1, bar + 6)
    return px[y, px.shape[1] // 2]


def _green(c: Any) -> bool:
    r, g, b = (int(v) for v in c[:3])
    return g > r + 30 and g > b + 30


def _sample(px: Any, x: int, y: int) -> Any:
    x = max(0, min(px.shape[1] - 1, x))
    return px[max(0, min(px.shape[0] - 1, y)), x]


def _side(px: Any, b: _Box, bg: Any) -> str:
    yc = (b.y0 + b.y1) // 2
    left, right = _sample(px, b.x0 - PAD, yc), _sample(px, b.x1 + PAD, yc)
    if _close(left, bg, BG_TOL) and _close(right, bg, BG_TOL):
        return "time"
    if _green(left) or _green(right):
        return "self"
    if not _close(left, bg, BG_TOL) or not _close(right, bg, BG_TOL):
        return "friend"
    return "friend" if (b.x0 + b.x1) / 2 < px.shape[1] / 2 else "self"


def _same_bubble(px: Any, a: _Box, b: _Box, bg: Any) -> bool:
    """Does the bubble colour run unbroken from box a down to box b (one wrapped message)?"""
    if b.y0 - a.y1 > (a.y1 - a.y0) * 1.2:
        return False
    x = min(a.x0, b.x0) - PAD
    for y in range(a.y1, b.y0 + 1):
        if _close(_sample(px, x, y), bg, BG_TOL):
            return False
    return True


def capture_wechat(panel_left: int = 0) -> Any:
    """A picture of the WeChat chat panel on this PC (Windows), or None when there is none.

    The main window is found by its class (WeChat 3.9: WeChatMainWndForPC; 4.x: the Qt main
    window titled 微信/Weixin) and grabbed with PIL; `panel_left` px of session list are cut off.
    """
    try:
        import win32gui
        from PIL import ImageGrab
    except ImportError:
        return None
    hwnd = win32gui.FindWindow("WeChatMainWndForPC", None) or win32gui.FindWindow(None, "微信") \
        or win32gui.FindWindow(None, "Weixin")
    if not hwnd or win32gui.IsIconic(hwnd):
        return None
    left, top, right, bottom = win32gui.GetWindowRect(hwnd)
    if right - left < 200 or bottom - top < 200:
        return None
    return ImageGrab.grab(bbox=(left + panel_left, top, right, bottom), all_screens=True)
