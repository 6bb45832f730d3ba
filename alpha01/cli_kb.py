"""`alpha01 kb`: the knowledge commands (alpha01/knowledge/commands.py) plus `kb check`, the
readiness check, which needs the whole answering path and so lives above the app."""

from __future__ import annotations

import json
from typing import Any

import click

from .clitext import t
from .knowledge.commands import ProgressBar, kb
from .readiness import DEFAULT_LIMIT, check_shop

MARKS = {"answered": "ok", "handoff": "->", "other": "??", "silent": "--"}


@kb.command("check", help=t("kbc.help"))
@click.option("--limit", type=click.IntRange(0), default=DEFAULT_LIMIT, show_default=True,
              help=t("kbc.opt.limit"))
@click.option("--problems", "only_problems", is_flag=True, help=t("kbc.opt.problems"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def kb_check(app: Any, limit: int, only_problems: bool, as_json: bool) -> None:
    progress = ProgressBar(t("kbc.asking"), quiet=as_json)
    try:
        report = check_shop(app, limit=limit, progress=progress)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        return
    for o in report.outcomes:
        if only_problems and o.ok:
            continue
        reply = " ".join((o.reply or "").split())
        click.echo(f"{MARKS[o.verdict]} {o.probe.question}")
        click.echo(t("kbc.line", verdict=t(f"kbc.verdict.{o.verdict}"),
                     reply=reply[:80] + ("…" if len(reply) > 80 else "")))
    click.echo("")
    click.echo(t("kbc.documents"))
    for d in report.documents():
        mark = t("kbc.thin") if d["thin"] else ""
        click.echo(t("kbc.document", source=d["source"], answered=d["answered"],
                     questions=d["questions"], score=d["score"], mark=mark))
    fixes = report.fixes()
    if fixes:
        click.echo("")
        click.echo(t("kbc.fixes", n=len(fixes)))
        for line in fixes:
            click.echo(f"  - {line}")
    click.echo("")
    click.echo(t("kbc.score", score=report.score, answered=report.count("answered"),
                 n=len(report.outcomes), handoff=report.count("handoff"),
                 other=report.count("other")))
    if not report.model:
        click.echo(t("kbc.no_model"))
    if report.drafted > len(report.outcomes):
        click.echo(t("kbc.limited", n=len(report.outcomes), drafted=report.drafted))
    click.echo(t("kbc.nothing_written") if not any(report.written.values())
               else t("kbc.written", written=report.written))
