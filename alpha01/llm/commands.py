"""`alpha01 models list|check|install`: see, verify and assemble the model files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click

from ..clitext import json_option, t
from ..errors import LLMError
from . import models as m


def _obj(ctx: click.Context):
    return ctx.obj


def _emit(ctx: click.Context, payload: object, text: str) -> None:
    if getattr(_obj(ctx), "json_output", False):
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        click.echo(text)


@click.group("models", help=t("models.help"))
def models_group() -> None:
    pass


def _locate(spec: m.ModelSpec, paths) -> tuple[str, str]:
    for how, folder in m.search_dirs(paths):
        if (folder / spec.file).is_file():
            return how, str(folder / spec.file)
    if spec.single and m.parts_installed(spec):
        return "package", str(m.part_files(spec)[0])
    if m.parts_installed(spec):
        return "parts-installed", ""
    return "missing", ""


@models_group.command("list", help=t("models.list.help"))
@json_option
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    app = _obj(ctx)
    catalog = m.load_catalog()
    rows = []
    for spec in catalog.models:
        state, where = _locate(spec, app.paths)
        rows.append({"name": spec.name, "default": spec.default, "role": spec.role,
                     "size": spec.size, "ram_mb": spec.ram_mb, "licence": spec.licence,
                     "languages": list(spec.languages), "state": state, "path": where})
    try:
        active = str(m.discover(app.settings.llm, app.paths, catalog=catalog).path)
    except LLMError as exc:
        active = t("models.none", detail=exc)
    lines = []
    for r in rows:
        mark = "*" if r["default"] else " "
        lines.append(f"{mark} {r['name']:<38} {r['size'] / 1e6:>7.0f} MB  RAM {r['ram_mb']:>5} MB"
                     f"  {r['role']:<6} {r['state']:<15} {r['path']}")
    lines.append(t("models.active", path=active))
    _emit(ctx, {"models": rows, "active": active}, "\n".join(lines))


@models_group.command("check", help=t("models.check.help"))
@json_option
@click.pass_context
def check_cmd(ctx: click.Context) -> None:
    app = _obj(ctx)
    catalog = m.load_catalog()
    results, bad = [], False
    for spec in catalog.models:
        state, where = _locate(spec, app.paths)
        if not where:
            results.append({"name": spec.name, "state": state, "ok": None})
            continue
        ok = m.verify(Path(where), spec)
        bad |= not ok
        results.append({"name": spec.name, "state": state, "path": where, "ok": ok})
    text = "\n".join(
        f"{r['name']:<38} "
        f"{t('models.ok') if r['ok'] else t('models.mismatch') if r['ok'] is False else r['state']}"
        f"  {r.get('path', '')}" for r in results)
    _emit(ctx, {"models": results}, text)
    if bad:
        ctx.exit(1)


@models_group.command("install", help=t("models.install.help"))
@click.argument("name", required=False)
@json_option
@click.pass_context
def install_cmd(ctx: click.Context, name: str | None) -> None:
    app = _obj(ctx)
    catalog = m.load_catalog()
    spec = catalog.get(name) if name else catalog.default
    if spec is None:
        raise click.BadParameter(t("models.unknown", name=name))
    if spec.single:
        path = m.part_files(spec)[0]
        _emit(ctx, {"name": spec.name, "path": str(path)},
              t("models.single", name=spec.name, path=path))
        return
    app.paths.ensure()
    quiet = getattr(app, "json_output", False)
    with click.progressbar(length=spec.size, label=t("models.assembling", file=spec.file),
                           file=io.StringIO() if quiet else None) as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        path = m.assemble(spec, app.paths.models, progress=progress)
    _emit(ctx, {"name": spec.name, "path": str(path), "sha256": spec.sha256},
          t("models.installed", name=spec.name, path=path))
