"""The `alpha01` command line. Thin: parse, call the app, print. One group per concern.

With no arguments (what a double-click runs) it opens the terminal UI.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import Alpha01Error

# Groups that live with their feature and load only when used (keeps `--help` instant).
LAZY_COMMANDS = {
    "kb": "alpha01.knowledge.commands:kb",
    "models": "alpha01.llm.commands:models_group",
    "sync": "alpha01.sync.commands:sync",
    "qr": "alpha01.sync.commands:qr",
    "customers": "alpha01.cli_customers:customers",
    "jobs": "alpha01.jobs.commands:jobs",
    "key": "alpha01.cli_key:key",
}
# What `--help` says about them without importing them.
LAZY_HELP = {
    "kb": "The shop's knowledge: add documents, search, reindex.",
    "models": "Local models: list, check, install the default one.",
    "sync": "Connect this PC to the owner's sync server.",
    "qr": "Print or save this store's QR code.",
    "customers": "The shop's customers: list, pause/resume the AI.",
    "jobs": "Automations: broadcasts, follow-ups, reports, catalog sync, backups.",
    "key": "数据库密钥的恢复码：换电脑时显示与恢复。",
}


class LazyGroup(click.Group):
    """Commands that live with their feature, imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is None and name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[name].partition(":")
            try:
                cmd = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                # --help lists every command; a missing optional extra is said plainly here
                return click.Command(name, help=f"(unavailable: {exc})",
                                     callback=_unavailable(name, exc))
        return cmd


    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_HELP.get(name, "")))
            else:
                cmd = self.commands[name]
                if not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _unavailable(name: str, exc: ImportError):
    def fail() -> None:
        raise click.ClickException(f"'alpha01 {name}' is not available: {exc}. "
                                   "Install the matching extra (see README).")
    return fail


def _ctx(ctx: click.Context) -> Any:
    return ctx.ensure_object(dict)["app"] if isinstance(ctx.obj, dict) else ctx.obj


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="alpha01")
@click.option("--home", type=click.Path(file_okay=False), envvar="ALPHA01_HOME",
              help="Data directory (default ~/.alpha01; env ALPHA01_HOME).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """阿尔法01 — offline-first AI customer service for your shop's WeChat."""
    from .app import AppContext
    from .logs import setup
    from .paths import Paths

    ctx.obj = AppContext(paths=Paths.resolve(home))
    ctx.call_on_close(ctx.obj.close)
    setup(ctx.obj.paths)
    if ctx.invoked_subcommand is None:
        _open_tui(ctx.obj)


def _open_tui(app: Any, **kwargs: Any) -> None:
    try:
        from .tui.app import run_tui
    except ImportError:
        click.echo(cli.get_help(click.get_current_context()))
        click.echo("\n(the terminal UI is not installed: pip install 'alpha01[tui]')")
        return
    run_tui(app, **kwargs)


# -- init / doctor --------------------------------------------------------------------------


@cli.command()
@click.option("--shop", help="The shop's name.")
@click.option("--force", is_flag=True, help="Rewrite settings.toml with defaults.")
@click.pass_obj
def init(app: Any, shop: str | None, force: bool) -> None:
    """Create the home directory, its settings file and the database."""
    app.paths.ensure()
    if force or not app.paths.settings.exists():
        if shop:
            app.settings = app.settings.with_overrides(shop={"name": shop})
        app.save_settings()
    elif shop:
        app.settings = app.settings.with_overrides(shop={"name": shop})
        app.save_settings()
    db = app.db()
    click.echo(f"home:     {app.paths.home}")
    click.echo(f"settings: {app.paths.settings}")
    click.echo(f"database: {app.paths.db} (schema {db.schema_version()})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def doctor(app: Any, as_json: bool) -> None:
    """Check the installation: home, settings, database, backends, optional pieces."""
    from .doctor import run_checks

    checks = run_checks(app)
    ok = all(c["ok"] or not c.get("required") for c in checks)
    if as_json:
        _echo_json({"ok": ok, "version": __version__, "home": str(app.paths.home),
                    "checks": checks})
    else:
        for c in checks:
            mark = "ok " if c["ok"] else ("!! " if c.get("required") else "-- ")
            click.echo(f"{mark} {c['name']:<14} {c['detail']}")
    if not ok:
        sys.exit(1)


# -- ask ------------------------------------------------------------------------------------


@cli.command()
@click.argument("question", required=False)
@click.option("--customer", default="cli", show_default=True, help="Who is asking.")
@click.option("--batch", "batch", type=click.Path(exists=True, dir_okay=False),
              help="Questions, one per line or JSONL with a 'question' field; JSONL out.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.option("--trace", is_flag=True, help="Include the full decision trace in the JSON.")
@click.option("--demo", is_flag=True, help="Ask the demo shop instead of this home's shop.")
@click.pass_obj
def ask(app: Any, question: str | None, customer: str, batch: str | None, as_json: bool,
        trace: bool, demo: bool) -> None:
    """Answer QUESTION as the shop would (nothing is sent to any customer)."""
    from .app import build_engine

    if (question is None) == (batch is None):
        raise click.UsageError("give a QUESTION or --batch FILE (not both)")
    if demo:
        app = _demo_app(app)
    engine = build_engine(app, demo=demo)
    if question is not None:
        result = engine.ask(question, customer=customer)
        if as_json:
            _echo_json(result.to_json(with_trace=trace))
        else:
            click.echo(result.reply if result.reply else f"（不回复：{result.reason}）")
            click.echo(f"[{result.tier or '-'} · {result.reason} · {result.latency_ms:.0f} ms]",
                       err=True)
        return
    for n, item in enumerate(_read_batch(Path(batch)), 1):
        who = item.get("customer") or f"{customer}-{n}"
        result = engine.ask(item["question"], customer=who)
        out = {"id": item.get("id", n), "question": item["question"]}
        out.update(result.to_json(with_trace=trace))
        _echo_json(out)


def _read_batch(path: Path) -> list[dict[str, Any]]:
    from .errors import InputError

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name} is not UTF-8 text") from exc
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path.name} line {n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                raise InputError(f"{path.name} line {n}: needs a 'question' text field")
            items.append(obj)
        else:
            items.append({"question": line})
    return items


# -- run / demo -----------------------------------------------------------------------------


@cli.command()
@click.option("--channel", "channel_name", default=None,
              help="console | sim | any registered channel (default: settings).")
@click.option("--headless", is_flag=True, help="No terminal UI: log to stdout.")
@click.option("--script", type=click.Path(exists=True, dir_okay=False),
              help="sim: the conversation file to play.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="sim: play the script this many times faster.")
@click.pass_obj
def run(app: Any, channel_name: str | None, headless: bool, script: str | None,
        speed: float) -> None:
    """Run the shop's bot on a channel until stopped (Ctrl-C)."""
    name = channel_name or app.settings.channel.name
    if not headless and sys.stdout.isatty() and name not in ("console",):
        _open_tui(app, channel=name)
        return
    kwargs: dict[str, Any] = {}
    if name == "sim":
        kwargs = {"speed": speed, **({"script": script} if script else {})}
    _run_headless(app, name, kwargs)


def _run_headless(app: Any, channel_name: str, kwargs: dict[str, Any], *,
                  demo: bool = False) -> None:
    from .app import build_channel, build_engine, start_services

    channel = build_channel(channel_name, app.settings, app.paths, **kwargs)
    engine = build_engine(app, channels=[channel], demo=demo)
    stop = threading.Event()
    engine.start()
    services = start_services(app, engine)
    from .jobs import start_for_host

    jobs = None if demo else start_for_host(app.settings, app.paths, engine)
    try:
        while not stop.is_set():
            engine.step()
            if _finished(channel, engine):
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        if jobs is not None:
            jobs.shutdown()
        services.stop()
        engine.close()
    counts = engine.store.counts()
    click.echo(f"-- {counts['messages']} messages · replies by tier {counts['by_tier']} · "
               f"open handoffs {counts['open_handoffs']}", err=True)


def _finished(channel: Any, engine: Any) -> bool:
    """A finite channel (sim script, console at EOF) is done when nothing is left to do."""
    done = getattr(channel, "finished", None)
    if done is None and hasattr(channel, "eof"):
        done = channel.eof.is_set() and channel.lines.empty()
    if not done:
        return False
    pending = engine.store.pending_batches()
    return not pending and engine.store.next_due_at() is None


def _demo_app(app: Any) -> Any:
    """A separate, fresh home for the demo shop, so the merchant's own data is never touched."""
    from .app import AppContext, demo_settings
    from .paths import Paths

    demo_home = app.paths.home / "demo"
    if demo_home.exists():
        shutil.rmtree(demo_home)
    demo = AppContext(paths=Paths(demo_home).ensure())
    demo.settings = demo_settings(app.settings)
    if not demo.settings.llm.model_path:
        demo.settings = demo.settings.with_overrides(llm={"model_path": _home_model(app)})
    demo.save_settings()
    return demo


def _home_model(app: Any) -> str:
    """The model the merchant's own home would use, so the demo answers with it too."""
    from .errors import LLMError
    from .llm.models import discover

    try:
        return str(discover(app.settings.llm, app.paths).path)
    except LLMError:
        return ""


@cli.command()
@click.option("--headless", is_flag=True, help="Print the transcript instead of the TUI.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Play the demo conversation this many times faster.")
@click.pass_obj
def demo(app: Any, headless: bool, speed: float) -> None:
    """The demo shop with a simulated customer conversation (offline, no WeChat)."""
    demo_app = _demo_app(app)
    # A faster script keeps its shape: the quiet window between messages shrinks with it.
    window = demo_app.settings.engine.aggregate_window_s / max(speed, 0.01)
    demo_app.settings = demo_app.settings.with_overrides(engine={"aggregate_window_s": window})
    if not headless and sys.stdout.isatty() and sys.stdin.isatty():
        try:
            from .tui.app import run_tui  # noqa: F401
        except ImportError:
            pass
        else:
            _open_tui(demo_app, channel="sim", demo=True, speed=speed)
            return
    click.echo(f"演示店铺：{demo_app.settings.shop.name}（离线，模拟顾客对话）", err=True)
    _run_headless(demo_app, "sim", {"speed": speed}, demo=True)


# -- rules ----------------------------------------------------------------------------------


@cli.group()
def rules() -> None:
    """The shop's own auto-replies, handoff triggers and blocklist."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def rules_list(app: Any, as_json: bool) -> None:
    from dataclasses import asdict

    from .storage.queries import Store

    items = Store(app.db()).rules()
    if as_json:
        _echo_json([asdict(r) for r in items])
        return
    for r in items:
        state = "on " if r.enabled else "off"
        reply = f" → {r.reply}" if r.reply else ""
        click.echo(f"#{r.id:<3} {state} p{r.priority:<4} {r.action:<7} {r.match}:{r.field} "
                   f"'{r.pattern}' [{r.hours}] {r.name}{reply} (hits {r.hits})")


@rules.command("add")
@click.option("--name", help="A label for the rule (default: the pattern).")
@click.option("--match", "match", type=click.Choice(["keyword", "regex", "exact"]),
              default="keyword", show_default=True)
@click.option("--field", "field_", type=click.Choice(["text", "sender"]), default="text",
              show_default=True, help="Match the message text or the sender's name.")
@click.option("--pattern", required=True, help="keyword: a|b|c contained; exact: whole text.")
@click.option("--action", type=click.Choice(["reply", "handoff", "ignore", "optout"]),
              default="reply", show_default=True)
@click.option("--reply", help="The reply text (for reply/optout).")
@click.option("--priority", type=int, default=100, show_default=True,
              help="Lower runs first.")
@click.option("--hours", type=click.Choice(["always", "open", "closed"]), default="always",
              show_default=True, help="Only during / outside business hours.")
@click.pass_obj
def rules_add(app: Any, name: str | None, match: str, field_: str, pattern: str, action: str,
              reply: str | None, priority: int, hours: str) -> None:
    """Add a rule, e.g. --pattern '营业时间|几点开门' --reply '每天8:30-21:30'."""
    from .domain import Rule
    from .pipeline.rules import validate
    from .storage.queries import Store

    rule = Rule(id=0, name=name or pattern, match=match, field=field_, pattern=pattern,
                action=action, reply=reply, priority=priority, hours=hours)
    validate(rule)
    store = Store(app.db())
    with store.tx():
        rid = store.add_rule(rule, time.time())
    click.echo(f"added rule #{rid}")


@rules.command("remove")
@click.argument("rule_id", type=int)
@click.pass_obj
def rules_remove(app: Any, rule_id: int) -> None:
    from .storage.queries import Store

    store = Store(app.db())
    with store.tx():
        if not store.remove_rule(rule_id):
            raise click.ClickException(f"no rule #{rule_id}")
    click.echo(f"removed rule #{rule_id}")


@rules.command("enable")
@click.argument("rule_id", type=int)
@click.option("--off", is_flag=True, help="Disable instead.")
@click.pass_obj
def rules_enable(app: Any, rule_id: int, off: bool) -> None:
    """Switch a rule (built-ins included) on, or off with --off."""
    from .storage.queries import Store

    store = Store(app.db())
    with store.tx():
        if not store.set_rule_enabled(rule_id, not off, time.time()):
            raise click.ClickException(f"no rule #{rule_id}")
    click.echo(f"rule #{rule_id} {'disabled' if off else 'enabled'}")


# -- handoffs -------------------------------------------------------------------------------


@cli.group()
def handoffs() -> None:
    """Chats handed to a human: list, claim, resolve."""


@handoffs.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved ones.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def handoffs_list(app: Any, show_all: bool, as_json: bool) -> None:
    from .storage.queries import Store

    rows = [dict(r) for r in Store(app.db()).handoffs()]
    if not show_all:
        rows = [r for r in rows if r["state"] != "resolved"]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        when = time.strftime("%m-%d %H:%M", time.localtime(r["created_at"]))
        click.echo(f"#{r['id']:<4} {r['state']:<8} {when} {r['customer']} ({r['channel']}): "
                   f"{r['reason']}")


def _handoff_action(app: Any, handoff_id: int, state: str, note: str | None) -> None:
    from .app import build_engine

    engine = build_engine(app)
    try:
        engine.update_handoff(handoff_id, state, note)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"handoff #{handoff_id} {state}")


@handoffs.command("claim")
@click.argument("handoff_id", type=int)
@click.pass_obj
def handoffs_claim(app: Any, handoff_id: int) -> None:
    _handoff_action(app, handoff_id, "claimed", None)


@handoffs.command("resolve")
@click.argument("handoff_id", type=int)
@click.option("--note", help="What was done.")
@click.pass_obj
def handoffs_resolve(app: Any, handoff_id: int, note: str | None) -> None:
    """Close a handoff; the AI answers that customer again."""
    _handoff_action(app, handoff_id, "resolved", note)


def main(argv: list[str] | None = None) -> None:
    from .logs import install_crash_hooks

    install_crash_hooks()
    try:
        rv = cli.main(args=argv, prog_name="alpha01", standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Alpha01Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug: into the log, and the owner is told where it is
        _crashed(exc)
        sys.exit(1)


def _crashed(exc: BaseException) -> None:
    from .logs import crash_note, log_crash

    log_crash(exc)
    click.echo(crash_note(exc), err=True)


if __name__ == "__main__":
    main()
