"""`alpha01 jobs`: the shop's automations — list, add, remove, run now, history."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from . import KINDS


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def _runner(app: Any) -> Any:
    from ..storage.queries import Store
    from .runner import JobRunner

    return JobRunner(settings=app.settings, paths=app.paths, store=Store(app.db()))


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


@click.group()
def jobs() -> None:
    """The shop's automations: broadcasts, follow-ups, reports, catalog sync, backups."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def jobs_list(app: Any, as_json: bool) -> None:
    """Every job with its schedule, next run and last result."""
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
        state = "on " if j["enabled"] else "off"
        click.echo(f"#{j['id']:<3} {state} {j['kind']:<9} {j['schedule']:<20} "
                   f"next {_when(j['next_run'])}  last {j['last_status'] or '-':<7} {j['name']}")
        if j["last_error"] and j["last_status"] == "error":
            click.echo(f"      error: {j['last_error']}")


@jobs.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--cron", help="Cron fields 'm h dom mon dow', e.g. '0 10 * * 6'.")
@click.option("--every", help="An interval: 90s, 15m, 2h, 1d.")
@click.option("--at", "at", help="Once, at 'YYYY-MM-DD HH:MM' (local time).")
@click.option("--text", help="broadcast / followup: the message ({name} = the customer).")
@click.option("--tags", help="broadcast: comma-separated tags (empty: every customer).")
@click.option("--match-all", is_flag=True, help="broadcast: customers with all the tags.")
@click.option("--source", help="catalog: a CSV/XLSX/JSON file path or an http(s) URL.")
@click.option("--param", "params", multiple=True, help="Other parameters as key=value.")
@click.option("--misfire-grace", type=float, default=3600.0, show_default=True,
              help="Seconds a late run (PC asleep or off) may still start.")
@click.option("--no-coalesce", is_flag=True, help="Run every missed time, not just the last.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def jobs_add(app: Any, name: str, kind: str, cron: str | None, every: str | None,
             at: str | None, text: str | None, tags: str | None, match_all: bool,
             source: str | None, params: tuple[str, ...], misfire_grace: float,
             no_coalesce: bool, as_json: bool) -> None:
    """Add job NAME, e.g. `jobs add 周末促销 --kind broadcast --cron '0 10 * * 6' --tags 老客
    --text '周末全场买二送一'`."""
    from .schedule import normalise

    given = [(k, v) for k, v in (("cron", cron), ("every", every), ("at", at)) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --cron, --every, --at")
    schedule = normalise(f"{given[0][0]}:{given[0][1]}")
    p: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--param {item!r}: use key=value")
        try:
            p[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            p[key.strip()] = value
    if text:
        p["text"] = text
    if tags:
        p["tags"] = [t.strip() for t in tags.replace("，", ",").split(",") if t.strip()]
    if match_all:
        p["match"] = "all"
    if source:
        p["source"] = source
    if kind == "broadcast" and not p.get("text"):
        raise click.UsageError("a broadcast needs --text")
    if kind == "catalog" and not p.get("source"):
        raise click.UsageError("a catalog sync needs --source")
    store = _runner(app).store
    if store.job(name) is not None:
        raise click.ClickException(f"a job named {name!r} exists already")
    with store.tx():
        jid = store.add_job(name=name, kind=kind, schedule=schedule, params=p,
                            misfire_grace_s=misfire_grace, coalesce=not no_coalesce,
                            now=time.time())
    if as_json:
        _echo_json({"id": jid, "name": name, "kind": kind, "schedule": schedule, "params": p})
    else:
        click.echo(f"added job #{jid} {name} ({kind}, {schedule})")


@jobs.command("remove")
@click.argument("name")
@click.pass_obj
def jobs_remove(app: Any, name: str) -> None:
    """Remove job NAME (its run history stays until retention removes it)."""
    store = _runner(app).store
    row = store.job(name)
    if row is None:
        raise click.ClickException(f"no job named {name!r}")
    with store.tx():
        store.remove_job(row["id"])
    click.echo(f"removed job #{row['id']} {row['name']}")


@jobs.command("run")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def jobs_run(app: Any, name: str, as_json: bool) -> None:
    """Run job NAME now. Sends are queued in the outbox and go out (paced, outside quiet
    hours) when the bot runs."""
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


@jobs.command("history")
@click.argument("name", required=False)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def jobs_history(app: Any, name: str | None, limit: int, as_json: bool) -> None:
    """The run ledger, newest first (all jobs, or NAME)."""
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
