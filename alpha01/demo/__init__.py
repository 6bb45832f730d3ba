"""The demo shop: 果然鲜水果铺, a small fruit shop written for alpha01's demo and tests.

`demo_passages()` reads it into passages for the in-memory retriever, so the demo answers from
the shop's data even before a knowledge index exists.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..domain import Passage


def demo_dir() -> Path:
    return Path(__file__).resolve().parent


def demo_passages() -> list[Passage]:
    d = demo_dir()
    out: list[Passage] = []
    for row in csv.DictReader(io.StringIO((d / "faq.csv").read_text(encoding="utf-8"))):
        q, a = row["问题"].strip(), row["答案"].strip()
        out.append(Passage(text=f"{q}\n{a}", source="faq.csv", score=0.0, kind="faq",
                           question=q, answer=a))
    for row in csv.DictReader(io.StringIO((d / "products.csv").read_text(encoding="utf-8"))):
        text = "，".join(f"{k}：{v}" for k, v in row.items() if v)
        out.append(Passage(text=text, source="products.csv", score=0.0, kind="product",
                           meta=dict(row)))
    heading = ""
    for block in (d / "intro.md").read_text(encoding="utf-8").split("\n\n"):
        block = block.strip()
        if not block:
            continue
        if block.startswith("#"):
            heading = block.lstrip("# ").splitlines()[0]
            rest = "\n".join(block.splitlines()[1:]).strip()
            if not rest:
                continue
            block = rest
        out.append(Passage(text=f"{heading}\n{block}" if heading else block,
                           source="intro.md", score=0.0, kind="chunk"))
    return out
