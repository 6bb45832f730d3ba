"""A child process for the crash test: the real engine against a file-backed 'world'.

The world stands in for a WeChat window: customer messages appear at their time, every send is
appended (fsync'd) to sent.jsonl and echoed back as a self message, and each start re-delivers
recent history with new UI ids. The parent kills this process at random moments; with
CRASH_AFTER_SEND set it also kills itself right after a send reached the world and before the
engine could record it.

    python crash_child.py WORLD_DIR HOME_DIR
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

from alpha01.app import AppContext, build_engine
from alpha01.channels.base import Channel
from alpha01.config import Settings
from alpha01.demo import demo_passages
from alpha01.domain import Inbound, Outbound
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever


class WorldChannel(Channel):
    name = "world"

    def __init__(self, world: Path, crash_p: float, rng: random.Random) -> None:
        self.world = world
        self.inbox = [json.loads(x) for x in (world / "inbox.jsonl").read_text().splitlines()]
        self.sent_path = world / "sent.jsonl"
        self.crash_p = crash_p
        self.rng = rng
        self.delivered: set[int] = set()
        self.echoes: list[dict] = []
        self._ui = 0

    def _sent(self) -> list[dict]:
        if not self.sent_path.exists():
            return []
        return [json.loads(x) for x in self.sent_path.read_text().splitlines() if x.strip()]

    def _ui_id(self) -> str:
        self._ui += 1
        return f"{os.getpid()}-{self._ui}"

    def _inbound(self, m: dict) -> Inbound:
        return Inbound(channel=self.name, chat=m["chat"], sender=m["sender"], text=m["text"],
                       ts=m["ts"], seq=m["seq"], ui_id=self._ui_id())

    def _echo(self, s: dict) -> Inbound:
        return Inbound(channel=self.name, chat=s["chat"], sender="self", text=s["text"],
                       ts=s["ts"], seq=s["seq"], is_self=True, ui_id=self._ui_id())

    def start(self) -> None:
        # The window opens: everything visible re-appears with new UI ids, history and our
        # own recent sends included.
        now = time.time()
        visible = [i for i, m in enumerate(self.inbox) if m["ts"] <= now]
        self.delivered = set(visible)
        self.pending = [self._inbound(self.inbox[i]) for i in visible]
        self.pending += [self._echo(s) for s in self._sent()[-6:]]

    def poll(self) -> list[Inbound]:
        now = time.time()
        out, self.pending = self.pending, []
        for i, m in enumerate(self.inbox):
            if i not in self.delivered and m["ts"] <= now:
                self.delivered.add(i)
                out.append(self._inbound(m))
        out += self.echoes
        self.echoes = []
        return out

    def send(self, out: Outbound) -> None:
        same = sum(1 for s in self._sent() if s["chat"] == out.chat and s["text"] == out.text)
        rec = {"reply_id": out.id, "message_id": out.reply_to, "chat": out.chat,
               "text": out.text, "ts": time.time(), "seq": same}
        with open(self.sent_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.crash_p and self.rng.random() < self.crash_p:
            os.kill(os.getpid(), signal.SIGKILL)  # sent, but the engine never hears of it
        self.echoes.append(self._echo(rec))

    def confirm_sent(self, out: Outbound) -> bool | None:
        if out.chat.startswith("opaque"):
            return None  # a chat the channel cannot read back: the outcome is unknowable
        return any(s["reply_id"] == out.id for s in self._sent())


def main() -> int:
    world, home = Path(sys.argv[1]), Path(sys.argv[2])
    end_at = float(os.environ["WORLD_END"])
    rng = random.Random(os.getpid())
    app = AppContext(paths=Paths(home).ensure())
    app.settings = Settings().with_overrides(
        engine={"aggregate_window_s": 0.15, "stale_after_s": 3600.0},
        pacing={"enabled": False}, knowledge={"relevance_threshold": 0.1})
    channel = WorldChannel(world, float(os.environ.get("CRASH_AFTER_SEND", "0")), rng)
    engine = build_engine(app, channels=[channel], llm=FakeLLM(default="好的，我帮您看一下。"),
                          retriever=MemoryRetriever(demo_passages()))
    engine.start()
    (world / "unknown.log").open("a").write(f"{engine.unknown_sends}\n")
    while True:
        engine.step()
        idle = not engine.store.pending_batches() and engine.store.next_due_at() is None
        if idle and time.time() > end_at:
            return 0
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
