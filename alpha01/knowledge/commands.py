"""`alpha01 kb …`: add, list, remove, search and reindex the shop's knowledge base.

`ctx.obj` is the AppContext. Errors are raised as Alpha01Error (the top-level CLI prints them);
`kb add` prints one line per file and exits 1 when any file failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..clitext import t


def _app(ctx: click.Context) -> Any:
    obj = ctx.find_object(dict)
    if obj is not None and "app" in obj:
        return obj["app"]
    return ctx.obj


def _open(app: Any, check_embedder: bool = True):
    from . import open_kb

    return open_kb(app.paths, app.settings.knowledge, check_embedder=check_embedder)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


def _want_json(app: Any, flag: bool) -> bool:
    return flag or bool(getattr(app, "json_output", False))


class ProgressBar:
    """A progress bar on stderr fed by the knowledge base's (name, done, total) callback;
    silent for JSON output, and for a single file until that file reports steps of its own
    (a big file's "name 40%")."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        self.label, self.quiet = label, quiet
        self.bar: Any = None
        self.done = 0

    def __call__(self, name: str, done: int, total: int) -> None:
        if self.quiet or (total < 2 and not name.endswith("%")):
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_pos=True, item_show_func=lambda n: n or "")
            self.bar.__enter__()
        self.bar.update(done - self.done, name)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.group("kb", help=t("kb.help"))
def kb() -> None:
    pass


@kb.command("add", help=t("kb.add.help"))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_context
def kb_add(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    app = _app(ctx)
    app.paths.ensure()
    knowledge = _open(app)
    use_json = _want_json(app, as_json)
    progress = ProgressBar(t("kb.ingesting"), quiet=use_json)
    try:
        report = knowledge.add(list(paths), progress=progress)
    finally:
        progress.close()
        knowledge.close()
    if use_json:
        _echo_json({
            "files": [{"path": r.path, "source": r.source, "status": r.status,
                       "detail": r.detail, "chunks": r.chunks} for r in report.results],
            "added": len(report.ok), "skipped": len(report.skipped),
            "failed": len(report.errors), "seconds": round(report.seconds, 3),
        })
    else:
        for result in report.results:
            click.echo(t(f"kb.file.{result.status}", path=result.path,
                         detail=result.detail or result.chunks), err=result.status == "error")
        click.echo(t("kb.summary", added=len(report.ok), skipped=len(report.skipped),
                     failed=len(report.errors), s=f"{report.seconds:.1f}"))
    if not report.results:
        raise click.ClickException(t("kb.no_files"))
    if report.failed:
        sys.exit(1)


@kb.command("list", help=t("kb.list.help"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_context
def kb_list(ctx: click.Context, as_json: bool) -> None:
    app = _app(ctx)
    knowledge = _open(app, check_embedder=False)
    try:
        files = knowledge.files()
        built = knowledge.store.built_with
    finally:
        knowledge.close()
    if _want_json(app, as_json):
        _echo_json({"embedder": built, "files": files})
        return
    if not files:
        click.echo(t("kb.empty"))
        return
    for f in files:
        click.echo(t("kb.list.row", source=f"{f['source']:<32}", kind=f"{f['kind']:<9}",
                     rows=f"{f['chunks']:>5}", path=f["path"]))
    click.echo(t("kb.list.total", n=len(files), embedder=built))


@kb.command("remove", help=t("kb.remove.help"))
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def kb_remove(ctx: click.Context, names: tuple[str, ...]) -> None:
    app = _app(ctx)
    knowledge = _open(app, check_embedder=False)
    try:
        removed, missing = knowledge.remove(names)
    finally:
        knowledge.close()
    for name in removed:
        click.echo(t("kb.removed", name=name))
    for name in missing:
        click.echo(t("kb.not_there", name=name), err=True)
    if missing:
        sys.exit(1)


@kb.command("search", help=t("kb.search.help"))
@click.argument("query")
@click.option("-k", "k", default=4, show_default=True, type=click.IntRange(1, 50),
              help=t("kb.search.opt.k"))
@click.option("--mode", type=click.Choice(["hybrid", "vector", "fts"]), default="hybrid",
              show_default=True, help=t("kb.search.opt.mode"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_context
def kb_search(ctx: click.Context, query: str, k: int, mode: str, as_json: bool) -> None:
    app = _app(ctx)
    knowledge = _open(app)
    try:
        hits = knowledge.search(query, k=k, mode=mode)
        faq = knowledge.faq_match(query)
    finally:
        knowledge.close()
    if _want_json(app, as_json):
        out = []
        for p in hits:
            item = p.to_json()
            item["locator"] = p.meta.get("locator")
            out.append(item)
        _echo_json({"query": query, "mode": mode, "hits": out,
                    "faq_match": faq.to_json() if faq else None})
        return
    if faq is not None:
        click.echo(t("kb.search.faq", score=f"{faq.score:.2f}", answer=faq.answer) + "\n")
    if not hits:
        click.echo(t("kb.search.none"))
    for n, p in enumerate(hits, 1):
        click.echo(f"#{n}  {p.score:.3f}  {p.kind:<7} {p.source} ({p.meta.get('locator')})")
        click.echo("    " + p.text.replace("\n", "\n    "))


@kb.command("words", help=t("kb.words.help"))
@click.argument("names", nargs=-1)
@click.option("--typo", is_flag=True, help=t("kb.words.opt.typo"))
@click.pass_context
def kb_words(ctx: click.Context, names: tuple[str, ...], typo: bool) -> None:
    from ..errors import InputError
    from ..lexicon import add_owner_entry

    app = _app(ctx)
    path = app.paths.lexicon
    if not names:
        if path.exists():
            click.echo(path.read_text(encoding="utf-8-sig").rstrip())
        else:
            click.echo(t("kb.words.none", path=path))
        return
    try:
        line = add_owner_entry(path, names, typo=typo)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    click.echo(t("kb.words.added", path=path, line=line))


@kb.command("reindex", help=t("kb.reindex.help"))
@click.pass_context
def kb_reindex(ctx: click.Context) -> None:
    app = _app(ctx)
    knowledge = _open(app, check_embedder=False)
    progress = ProgressBar(t("kb.reindexing"), quiet=_want_json(app, False))
    try:
        before = knowledge.store.built_with
        count = knowledge.reindex(progress=progress)
    finally:
        progress.close()
        knowledge.close()
    click.echo(t("kb.reindexed", n=count, embedder=knowledge.embedder.name)
               + (t("kb.reindexed.was", before=before)
                  if before and before != knowledge.embedder.name else ""))
