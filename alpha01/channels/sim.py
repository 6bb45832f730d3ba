"""SimChannel: plays scripted customer conversations from a file and prints the transcript.

The script is JSON Lines, one customer message per line:

    {"at": 0.0, "customer": "小王", "text": "你们几点开门？"}

`at` is seconds after the start (scaled by `speed`). Sent replies are printed as they go out,
so a headless run reads like the chat it simulates.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..domain import Inbound, Outbound
from ..errors import InputError
from .base import Capability, Channel


def load_script(path: Path) -> list[dict[str, Any]]:
    items = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read sim script {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"sim script {path} is not UTF-8") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = json.loads(line)
            items.append({"at": float(item.get("at", 0)), "customer": str(item["customer"]),
                          "text": str(item["text"])})
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path.name} line {n}: expected "
                             '{"at": seconds, "customer": name, "text": message}') from exc
    return sorted(items, key=lambda i: i["at"])


class SimChannel(Channel):
    name = "sim"
    stable_ids = True
    capabilities = frozenset({Capability.FINITE})

    def __init__(self, script: str | Path | list[dict[str, Any]] | None = None, *,
                 speed: float = 1.0, stdout: TextIO | None | bool = True, clock=None,
                 **_: object) -> None:
        """`stdout`: where the transcript is printed; True = sys.stdout, None = nowhere."""
        if script is None:  # the composition root passes the demo shop's conversation
            raise InputError("模拟渠道需要对话脚本：alpha01 run --script 文件")
        self.items = script if isinstance(script, list) else load_script(Path(script))
        self.speed = speed if speed > 0 else 1.0
        self.stdout = sys.stdout if stdout is True else stdout
        self.clock = clock
        self.transcript: list[tuple[str, str, str]] = []  # (who, chat, text)
        self._next = 0
        self._t0: float | None = None

    def _now(self) -> float:
        return self.clock.now() if self.clock else time.time()

    def start(self) -> None:
        self._t0 = self._now()

    @property
    def finished(self) -> bool:
        return self._next >= len(self.items)

    def poll(self) -> list[Inbound]:
        if self._t0 is None:
            self.start()
        elapsed = (self._now() - self._t0) * self.speed
        out = []
        while self._next < len(self.items) and self.items[self._next]["at"] <= elapsed:
            item = self.items[self._next]
            out.append(Inbound(channel=self.name, chat=item["customer"], sender=item["customer"],
                               text=item["text"], ts=self._now(),
                               key_hint=f"{self._t0:.3f}:{self._next}"))
            self._say(item["customer"], item["customer"], item["text"])
            self._next += 1
        return out

    def send(self, out: Outbound) -> None:
        self._say("店铺", out.chat, out.text)

    def confirm_sent(self, out: Outbound) -> bool | None:
        return False  # a transcript line can be printed again

    def _say(self, who: str, chat: str, text: str) -> None:
        self.transcript.append((who, chat, text))
        if self.stdout is not None:
            label = f"{who} → {chat}" if who == "店铺" else who
            print(f"[{label}] {text}", file=self.stdout, flush=True)
