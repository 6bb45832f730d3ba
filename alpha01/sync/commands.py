"""`alpha01 sync …` and `alpha01 qr`: enroll this PC with a sync server and print store QR codes.

`ctx.obj` is the app's AppContext (paths + settings). The device secret is written to
settings.toml in the home directory, next to the rest of this PC's configuration.
"""

from __future__ import annotations

import io
import json
import platform

import click

from .. import __version__
from .client import SyncClient, SyncError


def _client(app) -> SyncClient:
    s = app.settings.sync
    if not (s.server and s.device_id and s.device_secret):
        raise SyncError("this PC is not enrolled: run `alpha01 sync enroll --server URL --code CODE`")
    return SyncClient(s.server, s.device_id, s.device_secret)


@click.group()
def sync() -> None:
    """Connect this PC to the owner's sync server (optional)."""


@sync.command()
@click.option("--server", required=True, help="the sync server's URL, e.g. https://qr.example.com")
@click.option("--code", required=True, help="the enrollment code from `python -m sync_server enroll`")
@click.option("--name", default="", help="how this PC is listed on the server (default: its host name)")
@click.option("--force", is_flag=True, help="replace an existing enrollment")
@click.pass_obj
def enroll(app, server: str, code: str, name: str, force: bool) -> None:
    """Enroll this PC with a one-time code; stores the device id and secret in settings."""
    settings = app.settings
    if settings.sync.device_id and not force:
        raise SyncError(f"already enrolled as {settings.sync.device_id} with {settings.sync.server};"
                        " pass --force to enroll again")
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
    click.echo(f"Enrolled as {enrolled.device_id} for store {enrolled.store_id} "
               f"({enrolled.store_name}) on {client.server}.")


@sync.command()
@click.pass_obj
def status(app) -> None:
    """Show the enrollment and what the server currently knows about this PC."""
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
        click.echo("Not enrolled. Run: alpha01 sync enroll --server URL --code CODE")
        return
    click.echo(f"server     {info['server']}")
    click.echo(f"device     {info['device_id']}")
    if info.get("reachable"):
        click.echo(f"store      {info['store_id']} ({info['store_name']})")
        click.echo(f"online     {'yes' if info['online'] else 'no (no fresh heartbeat)'}")
        click.echo(f"routed     {info['routed_today']}/{info['daily_cap']} today")
    else:
        click.echo(f"server unreachable: {info.get('error')}")


@click.command()
@click.option("--png", type=click.Path(dir_okay=False), help="write the QR code as a PNG file")
@click.option("--svg", type=click.Path(dir_okay=False), help="write the QR code as an SVG file")
@click.option("--channel", default="default", show_default=True,
              help="label for attribution, e.g. 门口海报 or 外卖卡片")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), help="expire after N days")
@click.option("--web", "web", is_flag=True,
              help="this PC's own web chat address (settings [web]); no sync server needed")
@click.pass_obj
def qr(app, png: str | None, svg: str | None, channel: str, days: float | None,
       web: bool) -> None:
    """Mint a store QR code through the sync server and print it (and save PNG/SVG)."""
    import segno

    if web:
        from ..channels.web.channel import chat_url, check_exposure

        check_exposure(app.settings.web)
        _show_qr(app, segno.make(chat_url(app.settings.web), error="m"),
                 chat_url(app.settings.web), png, svg)
        return
    with _client(app) as client:
        minted = client.mint(channel, days)
    code = segno.make(minted.url, error="m")
    if png:
        code.save(png, scale=10, border=4)
    if svg:
        code.save(svg, scale=10, border=4)
    if getattr(app, "json_output", False):
        click.echo(json.dumps({"url": minted.url, "jti": minted.jti, "channel": minted.channel,
                               "expires_at": minted.expires_at, "png": png, "svg": svg},
                              ensure_ascii=False))
        return
    out = io.StringIO()
    code.terminal(out=out, compact=True)
    click.echo(out.getvalue(), nl=False)
    click.echo(minted.url)
    click.echo(f"channel {minted.channel}, token id {minted.jti}"
               + (f", saved {', '.join(p for p in (png, svg) if p)}" if png or svg else ""))


def _show_qr(app, code, url: str, png: str | None, svg: str | None) -> None:
    for path in (png, svg):
        if path:
            code.save(path, scale=10, border=4)
    if getattr(app, "json_output", False):
        click.echo(json.dumps({"url": url, "png": png, "svg": svg}, ensure_ascii=False))
        return
    out = io.StringIO()
    code.terminal(out=out, compact=True)
    click.echo(out.getvalue(), nl=False)
    click.echo(url)
