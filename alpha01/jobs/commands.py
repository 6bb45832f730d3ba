"""`alpha01 jobs`: the shop's automations — list, add, remove, run now, history."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from ..clitext import t
from . import KINDS


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def _runner(app: Any) -> Any:
    from ..storage.queries import Store
    from .runner import JobRunner

    return JobRunner(settings=app.settings, paths=app.paths, store=Store(app.db()))


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


@click.group(help=t("lazy.jobs"))
def jobs() -> None:
    pass


@jobs.command("list", help=t("jobs.list.help"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def jobs_list(app: Any, as_json: bool) -> None:
    from .scheduler import next_fire

    runner = _runner(app)
    store = runner.store
    last, errors = store.last_runs(), store.last_errors()
    now = time.time()
    out = []
    for job in runner.jobs():
        lr, le = last.get(job.id), errors.get(job.id)
        nxt = next_fire(job, last=store.last_scheduled(job.id), now=now) if job.enabled else None
        out.append({"id": job.id, "name": job.name, "kind": job.kind, "schedule": job.schedule,
                    "enabled": job.enabled, "params": job.params,
                    "misfire_grace_s": job.misfire_grace_s, "coalesce": job.coalesce,
                    "next_run": nxt, "last_status": lr["status"] if lr else None,
                    "last_run": lr["scheduled_at"] if lr else None,
                    "last_error": le["error"] if le else None})
    if as_json:
        _echo_json(out)
        return
    for j in out:
        state = t("rules.on") if j["enabled"] else t("rules.off")
        click.echo(t("jobs.row", id=f"{j['id']:<3}", state=state, kind=f"{j['kind']:<9}",
                     schedule=f"{j['schedule']:<20}", next=_when(j["next_run"]),
                     last=f"{j['last_status'] or '-':<7}", name=j["name"]))
        if j["last_error"] and j["last_status"] == "error":
            click.echo(t("jobs.row_error", error=j["last_error"]))


@jobs.command("add", help=t("jobs.add.help"))
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help=t("jobs.opt.kind"))
@click.option("--cron", help=t("jobs.opt.cron"))
@click.option("--every", help=t("jobs.opt.every"))
@click.option("--at", "at", help=t("jobs.opt.at"))
@click.option("--text", help=t("jobs.opt.text"))
@click.option("--tags", help=t("jobs.opt.tags"))
@click.option("--match-all", is_flag=True, help=t("jobs.opt.match_all"))
@click.option("--source", help=t("jobs.opt.source"))
@click.option("--param", "params", multiple=True, help=t("jobs.opt.param"))
@click.option("--misfire-grace", type=float, default=3600.0, show_default=True,
              help=t("jobs.opt.misfire"))
@click.option("--no-coalesce", is_flag=True, help=t("jobs.opt.no_coalesce"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def jobs_add(app: Any, name: str, kind: str, cron: str | None, every: str | None,
             at: str | None, text: str | None, tags: str | None, match_all: bool,
             source: str | None, params: tuple[str, ...], misfire_grace: float,
             no_coalesce: bool, as_json: bool) -> None:
    from .schedule import normalise

    given = [(k, v) for k, v in (("cron", cron), ("every", every), ("at", at)) if v]
    if len(given) != 1:
        raise click.UsageError(t("jobs.one_schedule"))
    schedule = normalise(f"{given[0][0]}:{given[0][1]}")
    p: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(t("jobs.bad_param", item=item))
        try:
            p[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            p[key.strip()] = value
    if text:
        p["text"] = text
    if tags:
        p["tags"] = [tag.strip() for tag in tags.replace("，", ",").split(",") if tag.strip()]
    if match_all:
        p["match"] = "all"
    if source:
        p["source"] = source
    if kind == "broadcast" and not p.get("text"):
        raise click.UsageError(t("jobs.needs_text"))
    if kind == "catalog" and not p.get("source"):
        raise click.UsageError(t("jobs.needs_source"))
    store = _runner(app).store
    if store.job(name) is not None:
        raise click.ClickException(t("jobs.exists", name=name))
    with store.tx():
        jid = store.add_job(name=name, kind=kind, schedule=schedule, params=p,
                            misfire_grace_s=misfire_grace, coalesce=not no_coalesce,
                            now=time.time())
    if as_json:
        _echo_json({"id": jid, "name": name, "kind": kind, "schedule": schedule, "params": p})
    else:
        click.echo(t("jobs.added", id=jid, name=name, kind=kind, schedule=schedule))


@jobs.command("remove", help=t("jobs.remove.help"))
@click.argument("name")
@click.pass_obj
def jobs_remove(app: Any, name: str) -> None:
    store = _runner(app).store
    row = store.job(name)
    if row is None:
        raise click.ClickException(t("jobs.none", name=name))
    with store.tx():
        store.remove_job(row["id"])
    click.echo(t("jobs.removed", id=row["id"], name=row["name"]))


@jobs.command("run", help=t("jobs.run.help"))
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def jobs_run(app: Any, name: str, as_json: bool) -> None:
    runner = _runner(app)
    result = runner.run(runner.job(name))
    if as_json:
        _echo_json(result.to_json())
    else:
        click.echo(f"{result.job}: {result.status}"
                   + (f" — {result.error}" if result.error else ""))
        for key, value in result.result.items():
            click.echo(f"  {key}: {json.dumps(value, ensure_ascii=False, default=str)[:300]}")
    if result.status == "error":
        raise SystemExit(1)


@jobs.command("history", help=t("jobs.history.help"))
@click.argument("name", required=False)
@click.option("--limit", type=int, default=20, show_default=True, help=t("jobs.opt.limit"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def jobs_history(app: Any, name: str | None, limit: int, as_json: bool) -> None:
    runner = _runner(app)
    job_id = runner.job(name).id if name else None
    rows = [dict(r) for r in runner.store.job_runs(job_id, limit)]
    for r in rows:
        r["result"] = json.loads(r["result"] or "{}")
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{_when(r['scheduled_at'])} {r['status']:<8} {r['job_name']} "
                   f"[{r['run_key']}]" + (f" — {r['error']}" if r["error"] else ""))
