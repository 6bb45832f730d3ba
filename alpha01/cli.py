"""The `alpha01` command line. Thin: parse, call the app, print. One group per concern.

With no arguments (what a double-click runs) it opens the terminal UI.
"""

from __future__ import annotations

import importlib
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from . import __version__
from .clitext import t
from .errors import Alpha01Error

# Groups that live with their feature and load only when used (keeps `--help` instant).
LAZY_COMMANDS = {
    "kb": "alpha01.cli_kb:kb",
    "models": "alpha01.llm.commands:models_group",
    "sync": "alpha01.cli_sync:sync",
    "qr": "alpha01.cli_sync:qr",
    "customers": "alpha01.cli_customers:customers",
    "jobs": "alpha01.jobs.commands:jobs",
    "key": "alpha01.cli_key:key",
    "wecom": "alpha01.cli_wecom:wecom",
}
# What `--help` says about them without importing them.
LAZY_HELP = {name: t(f"lazy.{name}") for name in LAZY_COMMANDS}


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
                return click.Command(name, help=t("unavailable", detail=exc),
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
            with formatter.section(t("section.commands")):
                formatter.write_dl(rows)


def _unavailable(name: str, exc: ImportError):
    def fail() -> None:
        raise click.ClickException(t("unavailable.fail", name=name, detail=exc))
    return fail


def _ctx(ctx: click.Context) -> Any:
    return ctx.ensure_object(dict)["app"] if isinstance(ctx.obj, dict) else ctx.obj


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group(cls=LazyGroup, invoke_without_command=True, help=t("cli.help"),
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="alpha01", help=t("opt.version"))
@click.help_option("-h", "--help", help=t("opt.help"))
@click.option("--home", type=click.Path(file_okay=False), envvar="ALPHA01_HOME",
              help=t("opt.home"))
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
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
        click.echo(t("no_tui"))
        return
    run_tui(app, **kwargs)


# -- init / doctor --------------------------------------------------------------------------


@cli.command(help=t("init.help"))
@click.option("--shop", help=t("init.opt.shop"))
@click.option("--force", is_flag=True, help=t("init.opt.force"))
@click.pass_obj
def init(app: Any, shop: str | None, force: bool) -> None:
    app.paths.ensure()
    if force or not app.paths.settings.exists():
        if shop:
            app.settings = app.settings.with_overrides(shop={"name": shop})
        app.save_settings()
    elif shop:
        app.settings = app.settings.with_overrides(shop={"name": shop})
        app.save_settings()
    db = app.db()
    click.echo(t("init.home", path=app.paths.home))
    click.echo(t("init.settings", path=app.paths.settings))
    click.echo(t("init.database", path=app.paths.db, schema=db.schema_version()))
    click.echo(t("init.next"))


@cli.command(help=t("doctor.help"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def doctor(app: Any, as_json: bool) -> None:
    from .doctor import run_checks

    checks = run_checks(app)
    problems = [c for c in checks if not c["ok"] and c.get("required")]
    if as_json:
        _echo_json({"ok": not problems, "version": __version__, "home": str(app.paths.home),
                    "checks": checks})
    else:
        for c in checks:
            mark = "ok " if c["ok"] else ("!! " if c.get("required") else "-- ")
            click.echo(f"{mark} {c['name']:<14} {c['detail']}")
            if c.get("fix") and not c["ok"]:
                click.echo(t("doctor.fix", fix=c["fix"]))
        click.echo(t("doctor.problems", n=len(problems)) if problems else t("doctor.ok"))
    if problems:
        sys.exit(1)


# -- ask ------------------------------------------------------------------------------------


@cli.command(help=t("ask.help"))
@click.argument("question", required=False)
@click.option("--customer", default="cli", show_default=True, help=t("ask.opt.customer"))
@click.option("--batch", "batch", type=click.Path(exists=True, dir_okay=False),
              help=t("ask.opt.batch"))
@click.option("--json", "as_json", is_flag=True, help=t("ask.opt.json"))
@click.option("--trace", is_flag=True, help=t("ask.opt.trace"))
@click.option("--demo", is_flag=True, help=t("ask.opt.demo"))
@click.pass_obj
def ask(app: Any, question: str | None, customer: str, batch: str | None, as_json: bool,
        trace: bool, demo: bool) -> None:
    from .app import build_engine

    if (question is None) == (batch is None):
        raise click.UsageError(t("ask.usage"))
    if demo:
        app = _demo_app(app)
    engine = build_engine(app, demo=demo)
    if question is not None:
        result = engine.ask(question, customer=customer)
        if as_json:
            _echo_json(result.to_json(with_trace=trace))
        else:
            click.echo(result.reply if result.reply else t("ask.silent", reason=result.reason))
            click.echo(t("ask.meta", tier=result.tier or "-", reason=result.reason,
                         ms=f"{result.latency_ms:.0f}"), err=True)
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
        raise InputError(t("batch.not_utf8", name=path.name)) from exc
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(t("batch.bad_json", name=path.name, n=n, detail=exc.msg)) from exc
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                raise InputError(t("batch.no_question", name=path.name, n=n))
            items.append(obj)
        else:
            items.append({"question": line})
    return items


# -- run / demo -----------------------------------------------------------------------------


@cli.command(help=t("run.help"))
@click.option("--channel", "channel_name", default=None, help=t("run.opt.channel"))
@click.option("--headless", is_flag=True, help=t("run.opt.headless"))
@click.option("--script", type=click.Path(exists=True, dir_okay=False),
              help=t("run.opt.script"))
@click.option("--speed", type=float, default=1.0, show_default=True, help=t("run.opt.speed"))
@click.pass_obj
def run(app: Any, channel_name: str | None, headless: bool, script: str | None,
        speed: float) -> None:
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

    stop = threading.Event()
    # Ctrl+C or a service manager's stop asks for a clean stop, whenever it comes: while the
    # engine starts or while it shuts down too (a KeyboardInterrupt there would cut the final
    # writes short, e.g. the channel's saved cursor).
    previous = _stop_on_signals(stop)
    channel = build_channel(channel_name, app.settings, app.paths, **kwargs)
    engine = build_engine(app, channels=[channel], demo=demo)
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
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    counts = engine.store.counts()
    click.echo(t("run.summary", messages=counts["messages"], tiers=counts["by_tier"],
                 handoffs=counts["open_handoffs"]), err=True)


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT and SIGTERM set `stop` instead of raising (a second one, while stopping, stops
    at once); returns the handlers they replaced (none off the main thread, where Python
    cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(*_: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # asked twice: do not wait for a clean stop
        stop.set()

    return {signum: signal.signal(signum, on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)}


def _finished(channel: Any, engine: Any) -> bool:
    """A finite channel (sim script, console at EOF) is done when nothing is left to do."""
    from .channels.base import Capability

    if Capability.FINITE not in channel.capabilities or not channel.finished:
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


@cli.command(help=t("demo.help"))
@click.option("--headless", is_flag=True, help=t("demo.opt.headless"))
@click.option("--speed", type=float, default=1.0, show_default=True, help=t("demo.opt.speed"))
@click.pass_obj
def demo(app: Any, headless: bool, speed: float) -> None:
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
    click.echo(t("demo.title", shop=demo_app.settings.shop.name), err=True)
    _run_headless(demo_app, "sim", {"speed": speed}, demo=True)


# -- rules ----------------------------------------------------------------------------------


@cli.group(help=t("rules.help"))
def rules() -> None:
    pass


@rules.command("list", help=t("rules.list.help"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
@click.pass_obj
def rules_list(app: Any, as_json: bool) -> None:
    from dataclasses import asdict

    from .storage.queries import Store

    items = Store(app.db()).rules()
    if as_json:
        _echo_json([asdict(r) for r in items])
        return
    for r in items:
        state = t("rules.on") if r.enabled else t("rules.off")
        reply = f" → {r.reply}" if r.reply else ""
        click.echo(t("rules.row", id=f"{r.id:<3}", state=state, priority=f"{r.priority:<4}",
                     action=f"{r.action:<7}", match=r.match, field=r.field, pattern=r.pattern,
                     hours=r.hours, name=r.name, reply=reply, hits=r.hits))


@rules.command("add", help=t("rules.add.help"))
@click.option("--name", help=t("rules.opt.name"))
@click.option("--match", "match", type=click.Choice(["keyword", "regex", "exact"]),
              default="keyword", show_default=True, help=t("rules.opt.match"))
@click.option("--field", "field_", type=click.Choice(["text", "sender"]), default="text",
              show_default=True, help=t("rules.opt.field"))
@click.option("--pattern", required=True, help=t("rules.opt.pattern"))
@click.option("--action", type=click.Choice(["reply", "handoff", "ignore", "optout"]),
              default="reply", show_default=True, help=t("rules.opt.action"))
@click.option("--reply", help=t("rules.opt.reply"))
@click.option("--priority", type=int, default=100, show_default=True,
              help=t("rules.opt.priority"))
@click.option("--hours", type=click.Choice(["always", "open", "closed"]), default="always",
              show_default=True, help=t("rules.opt.hours"))
@click.pass_obj
def rules_add(app: Any, name: str | None, match: str, field_: str, pattern: str, action: str,
              reply: str | None, priority: int, hours: str) -> None:
    from .domain import Rule
    from .pipeline.rules import validate
    from .storage.queries import Store

    rule = Rule(id=0, name=name or pattern, match=match, field=field_, pattern=pattern,
                action=action, reply=reply, priority=priority, hours=hours)
    validate(rule)
    store = Store(app.db())
    with store.tx():
        rid = store.add_rule(rule, time.time())
    click.echo(t("rules.added", id=rid))


@rules.command("remove", help=t("rules.remove.help"))
@click.argument("rule_id", type=int)
@click.pass_obj
def rules_remove(app: Any, rule_id: int) -> None:
    from .storage.queries import Store

    store = Store(app.db())
    with store.tx():
        if not store.remove_rule(rule_id):
            raise click.ClickException(t("rules.none", id=rule_id))
    click.echo(t("rules.removed", id=rule_id))


@rules.command("enable", help=t("rules.enable.help"))
@click.argument("rule_id", type=int)
@click.option("--off", is_flag=True, help=t("rules.opt.off"))
@click.pass_obj
def rules_enable(app: Any, rule_id: int, off: bool) -> None:
    from .storage.queries import Store

    store = Store(app.db())
    with store.tx():
        if not store.set_rule_enabled(rule_id, not off, time.time()):
            raise click.ClickException(t("rules.none", id=rule_id))
    click.echo(t("rules.disabled" if off else "rules.enabled", id=rule_id))


# -- handoffs -------------------------------------------------------------------------------


@cli.group(help=t("handoffs.help"))
def handoffs() -> None:
    pass


@handoffs.command("list", help=t("handoffs.list.help"))
@click.option("--all", "show_all", is_flag=True, help=t("handoffs.opt.all"))
@click.option("--json", "as_json", is_flag=True, help=t("opt.json"))
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
    click.echo(t(f"handoffs.{state}", id=handoff_id))


@handoffs.command("claim", help=t("handoffs.claim.help"))
@click.argument("handoff_id", type=int)
@click.pass_obj
def handoffs_claim(app: Any, handoff_id: int) -> None:
    _handoff_action(app, handoff_id, "claimed", None)


@handoffs.command("resolve", help=t("handoffs.resolve.help"))
@click.argument("handoff_id", type=int)
@click.option("--note", help=t("handoffs.opt.note"))
@click.pass_obj
def handoffs_resolve(app: Any, handoff_id: int, note: str | None) -> None:
    _handoff_action(app, handoff_id, "resolved", note)


def main(argv: list[str] | None = None) -> None:
    from .logs import install_crash_hooks

    install_crash_hooks()
    try:
        rv = cli.main(args=argv, prog_name="alpha01", standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except click.exceptions.Abort:
        click.echo(t("aborted"), err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Alpha01Error as exc:
        click.echo(t("error", detail=exc), err=True)
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
