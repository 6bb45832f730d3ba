"""Is the shop ready for its customers? `alpha01 kb check` and the TUI's readiness screen.

From the shop's own rows it drafts the questions customers will ask: each FAQ row as written
and as a WeChat greeting would carry it, a price (and a stock or other column) question per
catalog row, a question per document section named by its heading. The templates are
generic; every word of a question comes from the row itself. Each question goes through the
real answering path (`Engine.ask`: rules, retrieval, the model, the guard), which sends and
stores nothing, and is judged by whether the reply carries the row's facts. The result: what
the bot answers, what it hands to the owner, which documents are thin, a score, and a fix line
for each miss. The customer tables are counted before and after, so the report proves nothing
was written.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .clitext import t

# Question templates: only the structure is here, the words come from the shop's rows.
FAQ_TEMPLATES = ("{q}", "你好，{q}")
PRICE_TEMPLATE = "{name}多少钱？"
STOCK_TEMPLATE = "{name}还有货吗？"
FIELD_TEMPLATE = "{name}的{column}是什么？"
SECTION_TEMPLATE = "想问一下{heading}"
CLAUSE_TEMPLATE = "{clause}？"
# Column names of a catalog, by what they hold (general retail words, no shop's words).
PRICE_COLUMNS = ("价", "元", "钱", "price")
STOCK_COLUMNS = ("库存", "有货", "现货", "stock")
# "一、", "2.", "（三）" before a heading: numbering, not words a customer says
ORDINAL = re.compile(r"^[（(]?[一二三四五六七八九十百\d]+[)）、.．]\s*")
ASIDE = re.compile(r"[（(][^）)]*[）)]")  # a heading's remark in brackets
SHORT_VALUE = 24  # a column value longer than this is prose, not a fact to ask about
THIN_BELOW = 0.6  # a document whose questions are answered less often than this is thin
CUSTOMER_TABLES = ("customers", "messages", "replies", "handoffs", "events")
DEFAULT_LIMIT = 60
ASKER = "readiness-check"

Progress = Callable[[str, int, int], None]  # (question, done, total)


@dataclass
class Probe:
    question: str
    source: str
    locator: str
    kind: str  # faq | product | section
    expect: str  # what the reply should carry: the FAQ answer, a column's value, the section
    row: str  # the row as the shop wrote it


@dataclass
class Outcome:
    probe: Probe
    reply: str | None
    tier: str | None
    reason: str
    verdict: str  # answered | other | handoff | silent

    @property
    def ok(self) -> bool:
        return self.verdict == "answered"


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    drafted: int = 0  # questions drafted before the limit
    written: dict[str, int] = field(default_factory=dict)  # rows added to customer tables
    files: list[str] = field(default_factory=list)  # every file in the knowledge base
    model: bool = True  # a model can answer (without one, document sections go to the owner)

    @property
    def score(self) -> int:
        if not self.outcomes:
            return 0
        return round(100 * sum(o.ok for o in self.outcomes) / len(self.outcomes))

    def count(self, verdict: str) -> int:
        return sum(o.verdict == verdict for o in self.outcomes)

    def documents(self) -> list[dict[str, Any]]:
        asked: dict[str, list[Outcome]] = defaultdict(list)
        for o in self.outcomes:
            asked[o.probe.source].append(o)
        out = []
        for source in sorted(set(self.files) | set(asked)):
            mine = asked.get(source, [])
            answered = sum(o.ok for o in mine)
            rate = answered / len(mine) if mine else 0.0
            out.append({"source": source, "questions": len(mine), "answered": answered,
                        "score": round(100 * rate), "thin": not mine or rate < THIN_BELOW})
        return out

    def fixes(self) -> list[str]:
        lines = [t(f"kbc.fix.{o.verdict}.{o.probe.kind}", source=o.probe.source,
                   where=o.probe.locator, question=o.probe.question, row=_clip(o.probe.row))
                 for o in self.outcomes if not o.ok]
        lines += [t("kbc.fix.no_questions", source=d["source"])
                  for d in self.documents() if not d["questions"]]
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "questions": len(self.outcomes), "drafted": self.drafted,
                "answered": self.count("answered"), "handed_off": self.count("handoff"),
                "other": self.count("other"), "silent": self.count("silent"),
                "documents": self.documents(), "fixes": self.fixes(),
                "written": self.written, "model": self.model,
                "results": [{**asdict(o.probe), "reply": o.reply, "tier": o.tier,
                             "reason": o.reason, "verdict": o.verdict}
                            for o in self.outcomes]}


# -- drafting -------------------------------------------------------------------------------


def draft_questions(rows: list[dict[str, Any]]) -> list[Probe]:
    """The questions a customer would ask of these knowledge-base rows, in row order."""
    probes: list[Probe] = []
    sections: dict[tuple[str, str], Probe] = {}
    for row in sorted(rows, key=lambda r: (r["source"], int(r.get("position") or 0))):
        meta = json.loads(row.get("meta") or "{}")
        where = row.get("locator") or ""
        if row["kind"] == "faq" and row.get("question") and row.get("answer"):
            q = row["question"].strip()
            for template in FAQ_TEMPLATES:
                probes.append(Probe(template.format(q=q), row["source"], where, "faq",
                                    row["answer"], row["text"]))
        elif row["kind"] == "product":
            probes.extend(_product_probes(row, meta, where))
        elif row["kind"] == "chunk":
            # a section is stored as units: "heading path\nsentences"; ask each heading once
            heading, body = _unit_heading(row.get("search_text") or "")
            key = (row["source"], heading or body)
            if key in sections:
                sections[key].expect += "\n" + body
                continue
            question = (SECTION_TEMPLATE.format(heading=heading) if heading
                        else _clause_question(body))
            if question:
                sections[key] = Probe(question, row["source"], where, "section",
                                      f"{heading} {body}".strip(), f"{heading} {body}".strip())
                probes.append(sections[key])
    return probes


def _product_probes(row: dict[str, Any], meta: dict[str, Any], where: str) -> list[Probe]:
    name = str(meta.get("name") or "").strip()
    fields = {str(k): str(v).strip() for k, v in (meta.get("fields") or {}).items()}
    if not name:
        return []
    out = []
    rest = [(k, v) for k, v in fields.items() if v and v != name]
    price = next(((k, v) for k, v in rest if _is(k, PRICE_COLUMNS)), None)
    if price:
        out.append(Probe(PRICE_TEMPLATE.format(name=name), row["source"], where, "product",
                         price[1], row["text"]))
    stock = next(((k, v) for k, v in rest if _is(k, STOCK_COLUMNS)), None)
    other = next(((k, v) for k, v in rest if (k, v) not in (price, stock)
                  and len(v) <= SHORT_VALUE), None)
    if stock:
        out.append(Probe(STOCK_TEMPLATE.format(name=name), row["source"], where, "product",
                         "", row["text"]))
    elif other:
        out.append(Probe(FIELD_TEMPLATE.format(name=name, column=other[0]), row["source"],
                         where, "product", other[1], row["text"]))
    return out


def _is(column: str, words: tuple[str, ...]) -> bool:
    low = column.lower()
    return any(w in low for w in words)


def _unit_heading(unit: str) -> tuple[str, str]:
    """(the nearest heading, the text under it) of a search unit, which is stored as
    "heading > path\nsentences"; without a heading: ("", unit)."""
    lines = [x.strip() for x in unit.split("\n") if x.strip()]
    if len(lines) < 2:
        return "", " ".join(lines)
    heading = ORDINAL.sub("", ASIDE.sub("", lines[0].split(" > ")[-1])).strip()
    if not heading or len(heading) > 24 or heading.startswith(("-", "*", "•")):
        return "", " ".join(lines[1:])
    return heading, " ".join(lines[1:])


def _clause_question(body: str) -> str:
    clause = re.split(r"[，。！？；,.!?;：:]", body.strip(), maxsplit=1)[0].strip()
    if 6 <= len(clause) <= 20:  # shorter: a greeting or a label, not a topic
        return CLAUSE_TEMPLATE.format(clause=clause)
    return ""


# -- judging --------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"[\s\W_]+", "", text)


def _grams(text: str) -> set[str]:
    s = _norm(text)
    return {s[i:i + 2] for i in range(len(s) - 1)} or ({s} if s else set())


def carries(reply: str, probe: Probe) -> bool:
    """Does the reply carry the row's facts?"""
    if probe.kind == "product":
        if not probe.expect:  # a stock question: any answer from the row will do
            return bool(_grams(probe.row) & _grams(reply))
        return _norm(probe.expect) in _norm(reply)
    said, source = _grams(reply), _grams(probe.expect)
    if not said or not source:
        return False
    from_row = len(said & source) / len(said)  # how much of the reply is the row's
    of_row = len(said & source) / len(source)  # how much of the row the reply says
    return from_row >= 0.5 or of_row >= 0.5


def verdict(result: Any, probe: Probe) -> str:
    if result.handoff or result.tier in ("handoff", "fallback"):
        return "handoff"
    if not result.reply:
        return "silent"
    return "answered" if carries(result.reply, probe) else "other"


# -- running --------------------------------------------------------------------------------


def pick(probes: list[Probe], limit: int) -> list[Probe]:
    """At most `limit` questions, taken in turn from each document so every one is asked."""
    if limit <= 0 or len(probes) <= limit:
        return list(probes)
    queues: dict[str, list[Probe]] = defaultdict(list)
    for p in probes:
        queues[p.source].append(p)
    out: list[Probe] = []
    while len(out) < limit:
        for source in list(queues):
            if queues[source] and len(out) < limit:
                out.append(queues[source].pop(0))
        if not any(queues.values()):
            break
    order = {id(p): n for n, p in enumerate(probes)}
    return sorted(out, key=lambda p: order[id(p)])


def run(engine: Any, probes: list[Probe], progress: Progress | None = None) -> list[Outcome]:
    """Ask each question through the engine's read-only answering path."""
    outcomes = []
    for n, probe in enumerate(probes):
        if progress:
            progress(probe.question, n, len(probes))
        # a new asker per question: one draft must not become another's conversation
        result = engine.ask(probe.question, customer=f"{ASKER}-{n}")
        outcomes.append(Outcome(probe, result.reply, result.tier, result.reason,
                                verdict(result, probe)))
    if progress:
        progress("", len(probes), len(probes))
    return outcomes


def table_counts(db: Any) -> dict[str, int]:
    return {name: int(db.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            for name in CUSTOMER_TABLES}


def check_shop(app: Any, *, limit: int = DEFAULT_LIMIT, progress: Progress | None = None,
               llm: Any = None, retriever: Any = None) -> Report:
    """Draft, ask and judge on the shop of `app` (its knowledge base, rules and model)."""
    from .app import build_engine
    from .knowledge import open_kb
    from .knowledge.store import TEXT_COLUMNS

    kb = retriever if retriever is not None else open_kb(app.paths, app.settings.knowledge)
    report = Report()
    try:
        rows = kb.store.rows(columns=TEXT_COLUMNS)
        report.files = [f["source"] for f in kb.files()]
        probes = draft_questions(rows)
        report.drafted = len(probes)
        engine = build_engine(app, llm=llm, retriever=kb)
        report.model = bool(engine.pipeline.llm.available())
        before = table_counts(engine.db)
        report.outcomes = run(engine, pick(probes, limit), progress)
        after = table_counts(engine.db)
        report.written = {k: after[k] - before[k] for k in CUSTOMER_TABLES}
    finally:
        if retriever is None:
            kb.close()
    return report


def _clip(text: str, n: int = 40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"
