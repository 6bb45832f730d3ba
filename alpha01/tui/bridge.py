"""What the TUI asks of the engine, and the reader it looks through.

The UI thread never writes the database: every change is a function handed to the engine
thread with `engine.submit`, which returns a Future. Reads go through a separate read-only
connection (`Database.open_reader`), so a slow query never blocks the writer.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from ..storage.db import Database
from ..storage.queries import Store


class EngineBridge:
    def __init__(self, engine: Any, reader: Store) -> None:
        self.engine = engine
        self.reader = reader

    @classmethod
    def open(cls, engine: Any, db_path: Any) -> EngineBridge:
        return cls(engine, Store(Database.open_reader(db_path, key=engine.db.key)))

    def close(self) -> None:
        self.reader.db.close()

    # -- engine facts the UI shows (cheap, safe from any thread) ------------------------------

    def risk(self) -> float:
        pacer = self.engine.pacer
        try:
            return pacer.risk(self.engine.clock.now())
        except RuntimeError:  # the engine thread changed the window while we counted
            return 0.0

    def channel_health(self) -> list[tuple[str, bool, str]]:
        out = []
        for name, ch in self.engine.channels.items():
            try:
                h = ch.health()
                out.append((name, bool(h.ok), h.detail))
            except Exception as exc:  # a broken channel must not break the status bar
                out.append((name, False, str(exc)[:60]))
        return out

    # -- changes, run on the engine thread ----------------------------------------------------

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        return self.engine.submit(fn, *args, **kwargs)

    def manual_reply(self, customer_id: int, text: str, *, take_over: bool = True
                     ) -> concurrent.futures.Future:
        """The merchant's reply through the outbox. `take_over`: like typing in WeChat, it
        pauses the AI for this customer first (cancelling any AI reply not yet sent)."""
        return self.engine.submit(_manual_reply, self.engine, customer_id, text, take_over)

    def pause(self, customer_id: int, minutes: float | None = None
              ) -> concurrent.futures.Future:
        return self.engine.submit(self.engine.pause, customer_id, minutes)

    def resume(self, customer_id: int) -> concurrent.futures.Future:
        return self.engine.submit(self.engine.resume, customer_id)

    def update_handoff(self, handoff_id: int, state: str, note: str | None = None
                       ) -> concurrent.futures.Future:
        return self.engine.submit(self.engine.update_handoff, handoff_id, state, note)

    def set_tags(self, customer_id: int, tags: list[str]) -> concurrent.futures.Future:
        return self.engine.submit(_set_tags, self.engine, customer_id, tags)

    def add_faq(self, question: str, answer: str, message_id: int | None = None
                ) -> concurrent.futures.Future:
        """Question + the merchant's answer become an FAQ the very next message can match."""
        return self.engine.submit(_add_faq, self.engine, question, answer, message_id)

    def dismiss(self, message_id: int) -> concurrent.futures.Future:
        return self.engine.submit(_dismiss, self.engine, message_id)

    def search(self, query: str, k: int = 8) -> concurrent.futures.Future:
        """Knowledge search on the engine thread (the retriever is the engine's)."""
        return self.engine.submit(self.engine.pipeline.retriever.search, query, k)


def _manual_reply(engine: Any, customer_id: int, text: str, take_over: bool) -> int:
    if take_over:
        customer = engine.store.customer_by_id(customer_id)
        if customer is not None and not customer.handed_off:
            engine.pause(customer_id)
    return engine.manual_reply(customer_id, text)


def _set_tags(engine: Any, customer_id: int, tags: list[str]) -> None:
    now = engine.clock.now()
    with engine.store.tx():
        engine.store.set_tags(customer_id, tags)
        engine.store.event("tags", now, customer_id=customer_id, tags=tags)


def _add_faq(engine: Any, question: str, answer: str, message_id: int | None) -> Any:
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise ValueError("问题和答案都不能为空")
    passage = engine.pipeline.retriever.add_faq(question, answer)
    now = engine.clock.now()
    with engine.store.tx():
        engine.store.event("faq-added", now, message_id=message_id, question=question)
    return passage


def _dismiss(engine: Any, message_id: int) -> None:
    with engine.store.tx():
        engine.store.event("inbox-dismissed", engine.clock.now(), message_id=message_id)

