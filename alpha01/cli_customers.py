"""`alpha01 customers`: list customers, pause or resume the AI, export or forget one (PIPL)."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from .clitext import t


def _one(app: Any, name: str) -> Any:
    from .storage.queries import Store

    found = Store(app.db()).find_customers(name)
    if not found:
        raise click.ClickException(t("cust.none", name=name))
    if len(found) > 1:
        where = ", ".join(f"{c.channel}:{c.chat}" for c in found)
        raise click.ClickException(t("cust.many", n=len(found), name=name, where=where))
    return found[0]


@click.group(help=t("lazy.customers"))
def customers() -> None:
    pass


@customers.command("list", help=t("cust.list.help"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def customers_list(app: Any, as_json: bool) -> None:
    from dataclasses import asdict

    from .storage.queries import Store

    store = Store(app.db())
    rows = [asdict(c) for c in (store.customer_by_id(r[0]) for r in
                                store.conn.execute("SELECT id FROM customers ORDER BY id"))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    now = time.time()
    for c in rows:
        state = t("cust.paused" if c["paused_until"] and c["paused_until"] > now else
                  "cust.handed_off" if c["handed_off"] else
                  "cust.blocked" if c["blocked"] else "cust.ai")
        click.echo(f"#{c['id']:<4} {c['name']:<16} {c['channel']:<8} {state:<10} "
                   f"{','.join(c['tags'])}")


@customers.command("pause", help=t("cust.pause.help"))
@click.argument("name")
@click.option("--minutes", type=float, help=t("cust.opt.minutes"))
@click.pass_obj
def customers_pause(app: Any, name: str, minutes: float | None) -> None:
    from .app import build_engine

    c = _one(app, name)
    build_engine(app).pause(c.id, minutes)
    click.echo(t("cust.paused_for", name=c.name))


@customers.command("resume", help=t("cust.resume.help"))
@click.argument("name")
@click.pass_obj
def customers_resume(app: Any, name: str) -> None:
    from .app import build_engine

    c = _one(app, name)
    build_engine(app).resume(c.id)
    click.echo(t("cust.resumed_for", name=c.name))


@customers.command("export", help=t("cust.export.help"))
@click.argument("name")
@click.option("--out", "out", type=click.Path(dir_okay=False), help=t("cust.opt.out"))
@click.pass_obj
def customers_export(app: Any, name: str, out: str | None) -> None:
    from .storage.queries import Store

    c = _one(app, name)
    data = Store(app.db()).customer_export(c.id)
    text = json.dumps({"exported_at": time.time(), **data}, ensure_ascii=False, indent=1,
                      default=str)
    if out:
        from pathlib import Path

        Path(out).write_text(text, encoding="utf-8")
        click.echo(t("cust.exported", messages=len(data["messages"]),
                     replies=len(data["replies"]), name=c.name, out=out), err=True)
    else:
        click.echo(text)


@customers.command("forget", help=t("cust.forget.help"))
@click.argument("name")
@click.option("--yes", is_flag=True, help=t("cust.opt.yes"))
@click.pass_obj
def customers_forget(app: Any, name: str, yes: bool) -> None:
    from .storage.queries import Store

    c = _one(app, name)
    if not yes:
        click.confirm(t("cust.confirm", name=c.name), abort=True)
    store = Store(app.db())
    with store.tx():
        counts = store.forget_customer(c.id, time.time())
    click.echo(t("cust.forgotten", messages=counts["messages"], replies=counts["replies"],
                 handoffs=counts["handoffs"]))


@customers.command("merge", help=t("cust.merge.help"))
@click.argument("old")
@click.argument("new")
@click.pass_obj
def customers_merge(app: Any, old: str, new: str) -> None:
    from .storage.queries import Store

    a, b = _one(app, old), _one(app, new)
    if a.id == b.id:
        raise click.ClickException(t("cust.merge.same", name=a.name))
    store = Store(app.db())
    in_group = store.conn.execute("SELECT count(*) FROM customers WHERE id IN (?, ?)"
                                  " AND member != ''", [a.id, b.id]).fetchone()[0]
    if a.channel != b.channel or in_group:
        raise click.ClickException(t("cust.merge.channels", old=f"{a.channel}:{a.chat}",
                                     new=f"{b.channel}:{b.chat}"))
    with store.tx():
        cid = store.rename_customer(a.channel, a.chat, b.chat, time.time(), "by hand")
        store.event("customer-renamed", time.time(), customer_id=cid, channel=a.channel,
                    old=a.chat, new=b.chat, how="by hand")
    merged = store.customer_by_id(cid)
    click.echo(t("cust.merged", old=a.chat, new=b.chat,
                 optout=t("cust.merge.optout") if merged and merged.opted_out else ""))
