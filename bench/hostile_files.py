"""Files built to exhaust `kb add`, for the benchmark and the tests: a zip-bomb .docx and a
big plain-text file of shop-like Chinese sentences."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

MB = 1024 * 1024


def docx_bytes(text: str = "营业时间：每天 8:30 到 21:00。") -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def zip_bomb_docx(unpacked_mb: int) -> bytes:
    """A valid .docx with one extra part of `unpacked_mb` MB of XML that compresses ~1000:1."""
    src = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        with out.open("word/bomb.xml", "w", force_zip64=True) as part:
            block = b"<w:p>" + b" " * (MB - 12) + b"</w:p>\n"
            for _ in range(unpacked_mb):
                part.write(block)
    return buf.getvalue()


_WORDS = ("苹果 香蕉 草莓 芒果 榴莲 礼盒 会员 积分 配送 自提 退款 售后 发票 优惠券 营业时间 停车 "
          "冷链 产地 规格 价格 库存 预订 定金 保鲜 签收 快递 运费 满减 折扣 周末").split()


def text_file(path: Path, megabytes: float, seed: int = 7) -> Path:
    """A UTF-8 text file of about `megabytes` MB: paragraphs of shop-like sentences."""
    rng = random.Random(seed)
    target = int(megabytes * MB)
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < target:
            a, b, c = rng.sample(_WORDS, 3)
            para = "".join(f"{a}和{b}的{c}是{rng.randint(1, 999)}元，{rng.randint(1, 30)}天内有效。"
                           for _ in range(rng.randint(3, 6))) + "\n\n"
            fh.write(para)
            written += len(para.encode("utf-8"))
    return path
