"""`alpha01 sync …` and `alpha01 qr`: enroll this PC with a sync server and print store QR codes.

`ctx.obj` is the app's AppContext (paths + settings). The device secret is written to
settings.toml in the home directory, next to the rest of this PC's configuration.
"""

from __future__ import annotations

import io
import json
import platform

import click

from . import __version__
from .clitext import json_option, t
from .sync.client import SyncClient, SyncError


def _client(app) -> SyncClient:
    s = app.settings.sync
    if not (s.server and s.device_id and s.device_secret):
        raise SyncError(t("sync.not_enrolled"))
    return SyncClient(s.server, s.device_id, s.device_secret)


@click.group(help=t("sync.help"))
def sync() -> None:
    pass


@sync.command(help=t("sync.enroll.help"))
@click.option("--server", required=True, help=t("sync.opt.server"))
@click.option("--code", required=True, help=t("sync.opt.code"))
@click.option("--name", default="", help=t("sync.opt.name"))
@click.option("--force", is_flag=True, help=t("sync.opt.force"))
@json_option
@click.pass_obj
def enroll(app, server: str, code: str, name: str, force: bool) -> None:
    settings = app.settings
    if settings.sync.device_id and not force:
        raise SyncError(t("sync.already", device=settings.sync.device_id,
                          server=settings.sync.server))
    with SyncClient(server) as client:
        enrolled = client.enroll(code, name or platform.node(), __version__)
    settings.sync.server = client.server
    settings.sync.device_id = enrolled.device_id
    settings.sync.device_secret = enrolled.device_secret
    app.save_settings()
    if getattr(app, "json_output", False):
        click.echo(json.dumps({"device_id": enrolled.device_id, "store_id": enrolled.store_id,
                               "store_name": enrolled.store_name, "server": client.server},
                              ensure_ascii=False))
        return
    click.echo(t("sync.enrolled", device=enrolled.device_id, store=enrolled.store_id,
                 name=enrolled.store_name, server=client.server))


@sync.command(help=t("sync.status.help"))
@json_option
@click.pass_obj
def status(app) -> None:
    s = app.settings.sync
    info: dict = {"server": s.server, "device_id": s.device_id, "enrolled": bool(s.device_id),
                  "heartbeat_s": s.heartbeat_s}
    if s.server and s.device_id and s.device_secret:
        try:
            with _client(app) as client:
                me = client.me()
            info.update(reachable=True, online=me["online"], store_id=me["store_id"],
                        store_name=me["store_name"], last_seen=me["last_seen"],
                        routed_today=me["routed_today"], daily_cap=me["daily_cap"])
        except SyncError as exc:
            info.update(reachable=False, error=str(exc))
    if getattr(app, "json_output", False):
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    if not info["enrolled"]:
        click.echo(t("sync.not_enrolled_hint"))
        return
    click.echo(t("sync.row.server", value=info["server"]))
    click.echo(t("sync.row.device", value=info["device_id"]))
    if info.get("reachable"):
        click.echo(t("sync.row.store", id=info["store_id"], name=info["store_name"]))
        click.echo(t("sync.row.online_yes" if info["online"] else "sync.row.online_no"))
        click.echo(t("sync.row.routed", n=info["routed_today"], cap=info["daily_cap"]))
    else:
        click.echo(t("sync.unreachable", detail=info.get("error")))


@click.command(help=t("qr.help"))
@click.option("--png", type=click.Path(dir_okay=False), help=t("qr.opt.png"))
@click.option("--svg", type=click.Path(dir_okay=False), help=t("qr.opt.svg"))
@click.option("--channel", default="default", show_default=True, help=t("qr.opt.channel"))
@click.option("--days", type=click.FloatRange(min=0, min_open=True), help=t("qr.opt.days"))
@click.option("--target", type=click.Choice(["any", "wechat", "web"]), default=None,
              help=t("qr.opt.target"))
@click.option("--web", "web", is_flag=True, help=t("qr.opt.web"))
@click.option("--wecom", "wecom", is_flag=True, help=t("qr.opt.wecom"))
@json_option
@click.pass_obj
def qr(app, png: str | None, svg: str | None, channel: str, days: float | None,
       target: str | None, web: bool, wecom: bool) -> None:
    import segno

    if wecom:
        url = _wecom_link(app.settings, "" if channel == "default" else channel)
        _show_qr(app, segno.make(url, error="m"), url, png, svg, None)
        return

    if web:
        from .channels.web.channel import chat_url, check_exposure, is_loopback

        web_settings = app.settings.web
        check_exposure(web_settings)
        url = chat_url(web_settings)
        # 127.0.0.1 is this PC itself: a phone that scans it reaches nothing
        warning = (t("qr.loopback", host=web_settings.host)
                   if not web_settings.public_url.strip() and is_loopback(web_settings.host)
                   else None)
        _show_qr(app, segno.make(url, error="m"), url, png, svg, warning)
        return
    with _client(app) as client:
        minted = client.mint(channel, days, target=target)
    code = segno.make(minted.url, error="m")
    if png:
        code.save(png, scale=10, border=4)
    if svg:
        code.save(svg, scale=10, border=4)
    if getattr(app, "json_output", False):
        click.echo(json.dumps({"url": minted.url, "jti": minted.jti, "channel": minted.channel,
                               "target": minted.target, "expires_at": minted.expires_at, "png": png, "svg": svg},
                              ensure_ascii=False))
        return
    out = io.StringIO()
    code.terminal(out=out, compact=True)
    click.echo(out.getvalue(), nl=False)
    click.echo(minted.url)
    click.echo(t("qr.minted", channel=minted.channel, jti=minted.jti)
               + (t("qr.saved", files=", ".join(p for p in (png, svg) if p))
                  if png or svg else ""))


def _wecom_link(settings, scene: str) -> str:
    """The kf account's contact link (kf/add_contact_way); `scene` labels where it was shown."""
    from .channels.wecom.channel import check_settings
    from .channels.wecom.client import KfClient, WeComError

    check_settings(settings)
    w = settings.wecom
    client = KfClient(w.corp_id, w.secret, base_url=w.base_url, timeout_s=w.timeout_s)
    try:
        return client.contact_url(w.open_kfid, scene)
    except WeComError as exc:
        raise click.ClickException(t("qr.wecom_failed", detail=exc)) from exc
    finally:
        client.close()


def _show_qr(app, code, url: str, png: str | None, svg: str | None,
             warning: str | None) -> None:
    for path in (png, svg):
        if path:
            code.save(path, scale=10, border=4)
    if getattr(app, "json_output", False):
        click.echo(json.dumps({"url": url, "png": png, "svg": svg,
                               "phone_reachable": warning is None, "warning": warning},
                              ensure_ascii=False))
        return
    out = io.StringIO()
    code.terminal(out=out, compact=True)
    click.echo(out.getvalue(), nl=False)
    click.echo(url)
    if warning:
        click.echo(warning, err=True)
