"""`alpha01 customers`: list customers, pause or resume the AI, export or forget one (PIPL)."""

from __future__ import annotations

import json
import time
from typing import Any

import click


def _one(app: Any, name: str) -> Any:
    from .storage.queries import Store

    found = Store(app.db()).find_customers(name)
    if not found:
        raise click.ClickException(f"no customer named {name!r}")
    if len(found) > 1:
        where = ", ".join(f"{c.channel}:{c.chat}" for c in found)
        raise click.ClickException(f"{len(found)} customers named {name!r} ({where})")
    return found[0]


@click.group()
def customers() -> None:
    """The shop's customers: list, pause/resume the AI, export or forget one."""


@customers.command("list")
@click.option("--json", "as_json", is_flag=True)
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
        state = ("paused" if c["paused_until"] and c["paused_until"] > now else
                 "handed off" if c["handed_off"] else "blocked" if c["blocked"] else "AI")
        click.echo(f"#{c['id']:<4} {c['name']:<16} {c['channel']:<8} {state:<10} "
                   f"{','.join(c['tags'])}")


@customers.command("pause")
@click.argument("name")
@click.option("--minutes", type=float, help="How long (default: settings engine.takeover_pause_min).")
@click.pass_obj
def customers_pause(app: Any, name: str, minutes: float | None) -> None:
    """Stop the AI answering NAME (you reply yourself)."""
    from .app import build_engine

    c = _one(app, name)
    build_engine(app).pause(c.id, minutes)
    click.echo(f"AI paused for {c.name}")


@customers.command("resume")
@click.argument("name")
@click.pass_obj
def customers_resume(app: Any, name: str) -> None:
    """Let the AI answer NAME again."""
    from .app import build_engine

    c = _one(app, name)
    build_engine(app).resume(c.id)
    click.echo(f"AI resumed for {c.name}")


@customers.command("export")
@click.argument("name")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="Write the JSON to this file (default: print it).")
@click.pass_obj
def customers_export(app: Any, name: str, out: str | None) -> None:
    """Everything stored about NAME, as JSON (their right to a copy under PIPL)."""
    from .storage.queries import Store

    c = _one(app, name)
    data = Store(app.db()).customer_export(c.id)
    text = json.dumps({"exported_at": time.time(), **data}, ensure_ascii=False, indent=1,
                      default=str)
    if out:
        from pathlib import Path

        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(data['messages'])} messages, {len(data['replies'])} replies "
                   f"about {c.name} to {out}", err=True)
    else:
        click.echo(text)


@customers.command("forget")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def customers_forget(app: Any, name: str, yes: bool) -> None:
    """Delete NAME and everything about them (messages, replies, profile, tags, handoffs).
    Only the fact that a deletion happened is kept."""
    from .storage.queries import Store

    c = _one(app, name)
    if not yes:
        click.confirm(f"Delete everything stored about {c.name}? This cannot be undone",
                      abort=True)
    store = Store(app.db())
    with store.tx():
        counts = store.forget_customer(c.id, time.time())
    click.echo(f"deleted {counts['messages']} messages, {counts['replies']} replies, "
               f"{counts['handoffs']} handoffs and the profile")
