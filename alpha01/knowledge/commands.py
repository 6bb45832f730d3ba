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


@click.group("kb")
def kb() -> None:
    """The shop's knowledge base: documents, FAQ sheets and price lists."""


@kb.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def kb_add(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Add files or folders (recursively). Unchanged files are skipped, changed files
    replaced. Formats: .md .txt .docx .pdf .xlsx .xls .csv .html."""
    app = _app(ctx)
    app.paths.ensure()
    knowledge = _open(app)
    use_json = _want_json(app, as_json)
    bar = None
    state = {"done": 0}

    def progress(name: str, done: int, total: int) -> None:
        nonlocal bar
        if use_json or total < 2:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="ingesting", file=sys.stderr,
                                    show_pos=True, item_show_func=lambda n: n or "")
            bar.__enter__()
        bar.update(done - state["done"], name)
        state["done"] = done

    try:
        report = knowledge.add(list(paths), progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
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
            click.echo(result.line(), err=result.status == "error")
        click.echo(report.summary())
    if not report.results:
        raise click.ClickException("no files found")
    if report.failed:
        sys.exit(1)


@kb.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def kb_list(ctx: click.Context, as_json: bool) -> None:
    """List the files in the knowledge base."""
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
        click.echo("the knowledge base is empty; add files with `alpha01 kb add PATH`")
        return
    for f in files:
        click.echo(f"{f['source']:<32} {f['kind']:<9} {f['chunks']:>5} rows  {f['path']}")
    click.echo(f"{len(files)} files, embedder {built}")


@kb.command("remove")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def kb_remove(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Remove files (by file name, as `kb list` shows them)."""
    app = _app(ctx)
    knowledge = _open(app, check_embedder=False)
    try:
        removed, missing = knowledge.remove(names)
    finally:
        knowledge.close()
    for name in removed:
        click.echo(f"removed  {name}")
    for name in missing:
        click.echo(f"error    {name}: not in the knowledge base", err=True)
    if missing:
        sys.exit(1)


@kb.command("search")
@click.argument("query")
@click.option("-k", "k", default=4, show_default=True, type=click.IntRange(1, 50),
              help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "fts"]), default="hybrid",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def kb_search(ctx: click.Context, query: str, k: int, mode: str, as_json: bool) -> None:
    """Search the knowledge base as the bot would."""
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
        click.echo(f"FAQ direct answer (score {faq.score:.2f}): {faq.answer}\n")
    if not hits:
        click.echo("no passages found")
    for n, p in enumerate(hits, 1):
        click.echo(f"#{n}  {p.score:.3f}  {p.kind:<7} {p.source} ({p.meta.get('locator')})")
        click.echo("    " + p.text.replace("\n", "\n    "))


@kb.command("words")
@click.argument("names", nargs=-1)
@click.option("--typo", is_flag=True, help="NAMES are a misspelling and its fix (错字 正字).")
@click.pass_context
def kb_words(ctx: click.Context, names: tuple[str, ...], typo: bool) -> None:
    """顾客的说法和资料里的说法：不带参数列出 lexicon.txt；带两个以上的词就加一行同义词
    （例：alpha01 kb words 牛油果 鳄梨 avocado；alpha01 kb words --typo 咖非 咖啡）。"""
    from ..errors import InputError
    from ..lexicon import add_owner_entry

    app = _app(ctx)
    path = app.paths.lexicon
    if not names:
        if path.exists():
            click.echo(path.read_text(encoding="utf-8-sig").rstrip())
        else:
            click.echo(f"还没有 {path}（用 alpha01 kb words 词1 词2 添加）")
        return
    try:
        line = add_owner_entry(path, names, typo=typo)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    click.echo(f"已加入 {path}：{line}")


@kb.command("reindex")
@click.pass_context
def kb_reindex(ctx: click.Context) -> None:
    """Rebuild the index with the configured embedder (needed after changing it)."""
    app = _app(ctx)
    knowledge = _open(app, check_embedder=False)
    try:
        before = knowledge.store.built_with
        count = knowledge.reindex()
    finally:
        knowledge.close()
    click.echo(f"reindexed {count} rows with {knowledge.embedder.name}"
               + (f" (was {before})" if before and before != knowledge.embedder.name else ""))
