"""ConsoleChannel: talk to the shop's agent in a terminal (any OS). One customer, stdin/stdout."""

from __future__ import annotations

import queue
import sys
import threading
import time
import uuid
from typing import TextIO

from ..domain import Inbound, Outbound
from .base import Capability, Channel


class ConsoleChannel(Channel):
    name = "console"
    stable_ids = True
    capabilities = frozenset({Capability.FINITE})

    def __init__(self, customer: str = "顾客", *, stdin: TextIO | None = None,
                 stdout: TextIO | None = None, prompt: bool = True, **_: object) -> None:
        self.customer = customer
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.prompt = prompt
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.eof = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self._reader = threading.Thread(target=self._read, name="console-stdin", daemon=True)
        self._reader.start()
        if self.prompt:
            self._print("（输入消息后回车，Ctrl-D 结束）")

    def _read(self) -> None:
        for line in self.stdin:
            self.lines.put(line.rstrip("\n"))
        self.eof.set()

    @property
    def finished(self) -> bool:
        """Standard input has ended and every line it gave was read."""
        return self.eof.is_set() and self.lines.empty()

    def poll(self) -> list[Inbound]:
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None or not line.strip():
                continue
            out.append(Inbound(channel=self.name, chat=self.customer, sender=self.customer,
                               text=line, ts=time.time(), key_hint=uuid.uuid4().hex))
        return out

    def send(self, out: Outbound) -> None:
        self._print(f"店铺：{out.text}")

    def confirm_sent(self, out: Outbound) -> bool | None:
        return False  # a reply cut off by a crash is worth printing again

    def _print(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)
