"""SVG snapshots of the main screens, checked for their content.

With ALPHA01_SCREENSHOTS=DIR the SVGs are also written there and turned into PNGs with
rsvg-convert (Debian: librsvg2-bin + fonts-wqy-microhei for the Chinese glyphs):

    ALPHA01_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/tui/test_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from textual.widgets import DataTable

from .conftest import make_rig, run, table_text, wait_for

SIZE = (140, 36)


def _publish(svg: Path, name: str) -> None:
    target = os.environ.get("ALPHA01_SCREENSHOTS")
    if not target:
        return
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, out / f"{name}.svg")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "--zoom", "1.0", "-o", str(out / f"{name}.png"),
                        str(out / f"{name}.svg")], check=True, timeout=60)


async def _shop_traffic(rig, pilot) -> None:
    rig.llm.enqueue("芒果今天 12 元一斤，台芒和贵妃芒都有。")
    for chat, text in (("小王", "你们几点开门？"), ("李阿姨", "可以送货上门吗"),
                       ("小王", "芒果今天甜吗？"), ("张先生", "我买的草莓坏了好几个，投诉"),
                       ("陈女士", "榴莲能帮忙开好吗")):
        rig.channel.inject(chat, text)
        await wait_for(pilot, lambda c=chat: rig.channel.sent_to(c) or
                       rig.app.bridge.reader.open_handoff_rows(), what=chat)
        await pilot.pause(0.1)
    await wait_for(pilot, lambda: len(rig.app.bridge.reader.stream(20)) >= 10, what="traffic")


def test_dashboard_and_conversation_snapshots(tmp_path):
    rig = make_rig(tmp_path / "shop", demo_input=True)

    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            await _shop_traffic(rig, pilot)
            conv = rig.app.screen.query_one("#conversations", DataTable)
            await wait_for(pilot, lambda: "陈女士" in table_text(conv), what="rows")
            await pilot.pause(0.3)
            dash = Path(rig.app.save_screenshot("dashboard.svg", str(tmp_path)))
            text = dash.read_text(encoding="utf-8")
            for word in ("果然鲜水果铺", "对话", "消息流", "小王", "已转人工", "FAQ", "风险",
                         "转人工队列"):
                assert word.replace(" ", "&#160;") in text, word
            _publish(dash, "dashboard")

            await wait_for(pilot, lambda: rig.channel.sent_to("小王") and len(
                rig.channel.sent_to("小王")) == 2, what="小王's two replies")
            row = next(i for i, k in enumerate(conv.rows) if
                       rig.app.bridge.reader.customer_row(int(k.value))["name"] == "小王")
            conv.move_cursor(row=row)
            await pilot.press("enter")
            await wait_for(pilot, lambda: "芒果今天" in getattr(rig.app.screen, "history_text",
                                                            ""), what="conversation")
            await pilot.pause(0.3)
            svg = Path(rig.app.save_screenshot("conversation.svg", str(tmp_path)))
            text = svg.read_text(encoding="utf-8")
            for word in ("芒果今天", "products.csv", "暂停AI"):
                assert word in text, word
            _publish(svg, "conversation")

            await pilot.press("escape")
            await pilot.press("h")
            await wait_for(pilot, lambda: rig.app.screen.__class__.__name__ == "HandoffScreen")
            await pilot.pause(0.2)
            svg = Path(rig.app.save_screenshot("handoffs.svg", str(tmp_path)))
            assert "张先生" in svg.read_text(encoding="utf-8")
            _publish(svg, "handoffs")
    run(go())


def test_doctor_output_snapshot(tmp_path):
    """`alpha01 doctor` on a new shop with a small model and no documents yet: the problem and
    its fix line, rendered as the terminal shows them."""
    import sys

    from rich.console import Console
    from rich.text import Text

    from alpha01.clitext import t
    from alpha01.llm import models

    spec = models.load_catalog().get("smollm2-135m-instruct-q4_1")
    model = f'model_path = "{models.part_files(spec)[0]}"\n' if models.parts_installed(spec) \
        else ""
    home = tmp_path / "shop"
    home.mkdir()
    (home / "settings.toml").write_text(f'[llm]\nbackend = "llamacpp"\n{model}'
                                        '[knowledge]\nembedder = "hash"\n', encoding="utf-8")
    env = {**os.environ, "ALPHA01_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "alpha01.cli", "doctor"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 1 and t("doctor.fix", fix=t("doc.fix.kb_add")) in r.stdout
    console = Console(record=True, width=150, file=open(os.devnull, "w"))  # noqa: SIM115
    for line in r.stdout.splitlines():
        style = ("bold red" if line.startswith("!!") else "yellow" if line.lstrip().startswith(
            t("doctor.fix", fix="").strip()) else "dim" if line.startswith("--") else "")
        # this machine's paths say nothing to the reader: the home as the owner knows it, the
        # installation folder by name
        line = line.replace(str(home), "~/.alpha01").replace(sys.prefix, "<安装目录>")
        console.print(Text(line, style=style))
    svg = tmp_path / "doctor.svg"
    svg.write_text(console.export_svg(title="alpha01 doctor"), encoding="utf-8")
    _publish(svg, "doctor")
