"""The OCR fallback on chat screenshots drawn with Debian's Chinese and emoji fonts.

Accuracy: every message text after normalisation (NFKC, whitespace dropped, emoji dropped: OCR
does not read pictures) compared with what was drawn; every bubble's side. Time per screen is a
benchmark row (scripts/bench wechat), not asserted here.
"""

from __future__ import annotations

import unicodedata

import pytest

from . import chatshots

pytest.importorskip("numpy")
if not chatshots.fonts_present():  # scripts/test-deps installs them; a bare dev box may lack them
    pytest.fail("fonts-wqy-microhei / fonts-noto-color-emoji missing: run scripts/test-deps",
                pytrace=False)
rapidocr = pytest.importorskip("rapidocr", reason="the ocr extra (scripts/setup installs it)")

from alpha01.channels.wechat.ocr import ChatReader  # noqa: E402

SCREENS = 30


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if not c.isspace() and ord(c) < 0x1F000
                   and c not in "\u2764\ufe0f\u200d")


@pytest.fixture(scope="module")
def reader() -> ChatReader:
    return ChatReader()


def score(reader: ChatReader, shots) -> dict:
    out = {"messages": 0, "exact": 0, "sided": 0, "times": 0, "times_found": 0, "titles": 0,
           "seconds": [], "misses": []}
    for title, lines, image in shots:
        screen = reader.read(image)
        out["seconds"].append(screen.seconds)
        out["titles"] += screen.title == title
        want = [(ln.side, normalise(ln.text)) for ln in lines if ln.side != "time"]
        got = [(m.attr, normalise(m.content)) for m in screen.messages if m.attr != "time"]
        out["times"] += sum(ln.side == "time" for ln in lines)
        out["times_found"] += sum(m.attr == "time" for m in screen.messages)
        out["messages"] += len(want)
        if len(got) != len(want):
            out["misses"].append((title, want, got))
            continue
        for (side, text), (got_side, got_text) in zip(want, got, strict=True):
            out["exact"] += text == got_text
            out["sided"] += side == got_side
            if text != got_text:
                out["misses"].append((text, got_text))
    return out


@pytest.mark.slow
def test_thirty_screens_read_exactly_and_on_the_right_side(reader):
    shots = chatshots.screens(SCREENS)
    result = score(reader, shots)
    n = result["messages"]
    assert n >= SCREENS * 5
    exact = result["exact"] / n
    print(f"\nOCR: {SCREENS} screens, {n} messages, exact {exact:.1%}, sides "
          f"{result['sided']}/{n}, per screen {sum(result['seconds']) / SCREENS:.2f} s; misses "
          f"{result['misses']}")
    assert exact >= 0.95, result["misses"]
    assert result["sided"] == n  # every bubble on the right side
    assert result["titles"] == SCREENS and result["times_found"] == result["times"]


def test_a_wrapped_bubble_is_one_message_and_emoji_do_not_split_it(reader):
    long = "老板好，还有库存吗，订单号20260307118，今天下午能发货吗，谢谢👍"
    lines = [chatshots.Line("time", "10:05"), chatshots.Line("friend", long),
             chatshots.Line("self", "有的，现货充足😊"), chatshots.Line("friend", "好的")]
    screen = reader.read(chatshots.render("周周", lines))
    assert screen.title == "周周"
    assert [(m.attr, normalise(m.content)) for m in screen.messages] == [
        ("time", "10:05"), ("friend", normalise(long)), ("self", normalise("有的，现货充足")),
        ("friend", "好的")]
    assert screen.messages[1].sender == "周周" and screen.messages[2].sender == "self"


def test_not_a_picture_is_a_clear_error(reader):
    import numpy as np

    with pytest.raises(ValueError, match="not a chat panel"):
        reader.read(np.zeros((10, 10, 3), dtype="uint8"))


# -- through the channel and the engine ------------------------------------------------------

def _window_picture(world, chat):
    lines = [chatshots.Line(attr, text) for attr, text in world.window_lines(chat)]
    return chatshots.render(chat, lines)


def test_with_the_ui_tree_gone_the_chat_is_read_from_the_screen_and_answered_once(make_wx,
                                                                                    reader):
    rig = make_wx(wechat={"watchdog_interval_s": 5.0, "ocr_interval_s": 5.0})
    rig.channel._ocr_capture = lambda: _window_picture(rig.wx, "小王")
    rig.channel._ocr_reader = reader
    rig.wx.customer_says("小王", "你好")
    rig.settle()
    assert len(rig.bot_sent("小王")) == 1
    rig.wx.ui_empty = True
    rig.settle()  # the watchdog notices: down, one alert
    rig.wx.customer_says("小王", "可以送货上门吗")  # the listener reads nothing now
    rig.settle()
    [msg] = rig.rows("SELECT state FROM messages WHERE text = '可以送货上门吗'")
    assert msg["state"] == "answered"  # read off the screen, answered into the outbox ...
    assert len(rig.bot_sent("小王")) == 1  # ... but nothing is sent while the tree is gone
    assert not rig.channel.health().ok and "截图" in rig.channel.health().detail
    [health] = rig.rows("SELECT healthy FROM channel_state WHERE channel = 'wechat'")
    assert health["healthy"] == 0
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'channel-down'")[0]["n"] == 1
    rig.wx.ui_empty = False
    rig.settle()
    assert rig.channel.health().ok
    sent = rig.bot_sent("小王")
    assert len(sent) == 2 and "送货" in sent[1]
    # the window read again through the library composes the same messages: nothing twice
    assert rig.rows("SELECT count(*) AS n FROM messages WHERE text = '可以送货上门吗'"
                    )[0]["n"] == 1
    rig.settle()
    assert len(rig.bot_sent("小王")) == 2
