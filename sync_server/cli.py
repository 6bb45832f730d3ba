"""`python -m sync_server …`: set up, serve and administer the sync server.

Every command takes `--db PATH` (default `$ALPHA01_SYNC_DB`, else `./sync_server.db`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import click

from .db import SchemaTooNew
from .service import ServerConfig, ServiceError, SyncService
from .storage import is_postgres

ENV_DB = "ALPHA01_SYNC_DB"
ENV_CONFIG = "ALPHA01_SYNC_CONFIG"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _db_option(f: Callable) -> Callable:
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False),
        default=lambda: os.environ.get(ENV_DB, "sync_server.db"), show_default="sync_server.db",
        help=f"the server database: a SQLite file or a postgresql:// URL (env {ENV_DB})",
    )(f)


def _service(db_path: str) -> SyncService:
    try:
        service = SyncService(db_path)
    except (SchemaTooNew, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(service.close)  # a PostgreSQL pool is closed when the command ends
    return service


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


@click.group()
def cli() -> None:
    """alpha01 sync server: stores, store PCs and store QR live codes."""


@cli.command()
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="bind address; keep loopback and put nginx + TLS in front")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option("--public-url", default="", help="base URL printed in QR codes, e.g. https://qr.example.com")
@click.option("--online-window", default=90.0, show_default=True, help="seconds a heartbeat stays fresh")
@click.option("--scan-ip-per-min", default=120.0, show_default=True, help="QR scans per client address")
@click.option("--scan-token-per-min", default=1200.0, show_default=True, help="scans per QR token")
@click.option("--enroll-ip-per-min", default=10.0, show_default=True, help="enrollments per address")
@click.option("--scan-replay-window", default=600.0, show_default=True,
              help="seconds a scanner's repeat scans of a token get the first answer, slot-free")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True,
              help="address of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
@click.option("--docs", is_flag=True, help="serve /openapi.json and a self-contained /docs page")
@click.option("--log-level", default="warning", show_default=True)
def serve(db_path: str, host: str, port: int, workers: int, public_url: str, online_window: float,
          scan_ip_per_min: float, scan_token_per_min: float, enroll_ip_per_min: float,
          scan_replay_window: float, trusted_proxies: tuple[str, ...], docs: bool,
          log_level: str) -> None:
    """Run the HTTP server (uvicorn)."""
    import uvicorn

    service = _service(db_path)
    if not service.is_initialized():
        raise click.ClickException(f"not initialized: run `python -m sync_server init --db {db_path}`")
    service.close()
    if host not in LOOPBACK:
        click.echo(f"warning: binding {host}, not loopback; serve the public side through "
                   "nginx with TLS (docs/sync_server.md)", err=True)
    config = ServerConfig(
        online_window_s=online_window, scan_ip_per_min=scan_ip_per_min,
        scan_token_per_min=scan_token_per_min, enroll_ip_per_min=enroll_ip_per_min,
        public_url=public_url, scan_replay_window_s=scan_replay_window,
        trusted_proxies=list(trusted_proxies), docs=docs,
    )
    os.environ[ENV_DB] = db_path if is_postgres(db_path) else os.path.abspath(db_path)
    os.environ[ENV_CONFIG] = json.dumps(config.__dict__)
    uvicorn.run(
        "sync_server.cli:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level=log_level, access_log=False, server_header=False,
        proxy_headers=False,  # the app reads X-Forwarded-For from --trusted-proxy only
        timeout_keep_alive=5, limit_concurrency=1000, h11_max_incomplete_event_size=16 * 1024,
    )


def app_from_env() -> Any:
    """The ASGI app for uvicorn workers, configured by `serve` through the environment."""
    from .api import create_asgi

    config = ServerConfig(**json.loads(os.environ.get(ENV_CONFIG, "{}")))
    return create_asgi(SyncService(os.environ[ENV_DB], config))


@cli.command()
@_db_option
@click.option("--rotate-admin", is_flag=True, help="replace the admin token (the old one stops working)")
def init(db_path: str, rotate_admin: bool) -> None:
    """Create the database, the first signing key and the admin token (printed once)."""
    service = _service(db_path)
    try:
        token = service.init_admin(rotate=rotate_admin)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Admin token (shown only this once; the server keeps only its hash):")
    click.echo(token)


@cli.group()
def store() -> None:
    """Stores."""


@store.command("add")
@_db_option
@click.argument("name")
@click.option("--fallback", default="", help="contact shown when no device is available (phone…)")
@click.option("--daily-cap", default=100, show_default=True, type=click.IntRange(0),
              help="new friends per device per day")
@click.option("--owner", default="", help="group an owner's stores: their PCs see each other's alerts")
def store_add(db_path: str, name: str, fallback: str, daily_cap: int, owner: str) -> None:
    """Add a store; prints its id."""
    try:
        row = _service(db_path).add_store(name, fallback, daily_cap, owner)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"store {row['id']}: {row['name']}")


@store.command("owner")
@_db_option
@click.argument("store_id", type=int)
@click.argument("owner", default="")
def store_owner(db_path: str, store_id: int, owner: str) -> None:
    """Set the owner label of a store (omit OWNER: a store of its own)."""
    try:
        _service(db_path).set_owner(store_id, owner)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"store {store_id}: owner {owner or '-'}")


@store.command("list")
@_db_option
def store_list(db_path: str) -> None:
    """Stores with their device counts."""
    for s in _service(db_path).list_stores():
        click.echo(f"{s['id']:>4}  {s['name']}  devices {s['devices']} (online {s['online']})"
                   f"  cap {s['daily_cap']}/day  fallback: {s['fallback_contact'] or '-'}"
                   f"  owner: {s['owner'] or '-'}")


@cli.command()
@_db_option
@click.argument("store_id", type=int)
@click.option("--minutes", default=10.0, show_default=True, help="how long the code stays valid")
def enroll(db_path: str, store_id: int, minutes: float) -> None:
    """Make a single-use enrollment code for a store PC."""
    try:
        code, expires = _service(db_path).create_enrollment_code(store_id, minutes)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Enrollment code: {code}  (single use, valid until {_when(expires)})")
    click.echo("On the store PC: alpha01 sync enroll --server https://YOUR-SERVER --code " + code)


@cli.command()
@_db_option
@click.option("--store", "store_id", type=int, help="only this store")
def devices(db_path: str, store_id: int | None) -> None:
    """Enrolled devices with their online state."""
    for d in _service(db_path).list_devices(store_id):
        state = "online " if d["online"] else "offline"
        web = "ok" if d["web_ok"] else "down" if d["web_chat_url"] else "-"
        health = f"wechat {'ok' if d['wechat_ok'] else 'down'}  web {web}"
        click.echo(
            f"{d['id']}  store {d['store_id']}  {state}  {health}"
            f"  last seen {_when(d['last_seen'])}"
            f"  chats {d['open_chats']}  friends {d['friends_today']}  routed"
            f" {d['routed_today']}/{d['daily_cap']}  {d['wechat_name'] or '-'}  {d['name']}"
        )


@cli.command("device-cap")
@_db_option
@click.argument("device_id")
@click.argument("cap", type=click.IntRange(0), required=False)
def device_cap(db_path: str, device_id: str, cap: int | None) -> None:
    """Set a device's own daily new-friend cap (omit CAP to use the store's)."""
    try:
        _service(db_path).set_device_cap(device_id, cap)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{device_id}: cap {cap if cap is not None else 'store default'}")


@cli.group()
def qr() -> None:
    """Store QR tokens."""


@qr.command("mint")
@_db_option
@click.argument("store_id", type=int)
@click.option("--channel", default="default", show_default=True, help="label for attribution")
@click.option("--target", type=click.Choice(["any", "wechat", "web"]), default="any",
              show_default=True,
              help="what scans need: a working WeChat (landing page), web chat (redirect), either")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), help="expire after N days")
@click.option("--base-url", required=True, help="the server's public URL, e.g. https://qr.example.com")
@click.option("--png", type=click.Path(dir_okay=False), help="also write the QR code as PNG")
@click.option("--svg", type=click.Path(dir_okay=False), help="also write the QR code as SVG")
def qr_mint(db_path: str, store_id: int, channel: str, target: str, days: float | None,
            base_url: str, png: str | None, svg: str | None) -> None:
    """Mint a QR token for a store and print its URL."""
    try:
        minted = _service(db_path).mint(store_id, channel, days * 86400 if days else None,
                                        "admin", target=target)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    url = f"{base_url.rstrip('/')}/q/{minted['token']}"
    click.echo(f"token id {minted['jti']}  channel {minted['channel']}  target {minted['target']}"
               f"  expires {_when(minted['expires_at'])}")
    click.echo(url)
    if png or svg:
        import segno

        code = segno.make(url, error="m")
        if png:
            code.save(png, scale=10, border=4)
        if svg:
            code.save(svg, scale=10, border=4)


@qr.command("revoke")
@_db_option
@click.argument("token_or_id")
def qr_revoke(db_path: str, token_or_id: str) -> None:
    """Revoke a QR token (the whole token or its id)."""
    service = _service(db_path)
    try:
        jti = service.jti_of(token_or_id)
        service.revoke(jti)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {jti}")


@qr.command("list")
@_db_option
@click.option("--store", "store_id", type=int)
def qr_list(db_path: str, store_id: int | None) -> None:
    """Minted QR tokens."""
    for t in _service(db_path).list_tokens(store_id):
        state = "revoked" if t["revoked_at"] else "active"
        click.echo(f"{t['jti']}  store {t['store_id']}  {t['channel']}  {t['target']}  {state}"
                   f"  expires {_when(t['expires_at'])}  key {t['kid']}")


@cli.command()
@_db_option
@click.option("--store", "store_id", type=int)
def scans(db_path: str, store_id: int | None) -> None:
    """Scan counts by store, channel, device and outcome (attribution)."""
    for r in _service(db_path).scan_stats(store_id):
        click.echo(f"store {r['store_id']}  {r['channel']}  {r['device_id'] or '-'}"
                   f"  {r['outcome']}  {r['scans']}")


@cli.command()
@_db_option
@click.option("--store", "store_id", type=int)
def alerts(db_path: str, store_id: int | None) -> None:
    """What needs attention now: devices offline, WeChat down, caps reached."""
    found = _service(db_path).alerts(store_id)
    for a in found:
        click.echo(f"[{a['kind']}] {a['message']}")
    if not found:
        click.echo("一切正常 / all clear")


@cli.group()
def keys() -> None:
    """QR signing keys (the newest signs, all active keys verify)."""


@keys.command("list")
@_db_option
def keys_list(db_path: str) -> None:
    for k in _service(db_path).list_keys():
        click.echo(f"{k['kid']}  created {_when(k['created_at'])}"
                   f"  {'retired ' + _when(k['retired_at']) if k['retired_at'] else 'active'}")


@keys.command("rotate")
@_db_option
def keys_rotate(db_path: str) -> None:
    """Add a new signing key. Running servers pick it up within a minute."""
    click.echo(f"new signing key {_service(db_path).rotate_key()}")


@keys.command("retire")
@_db_option
@click.argument("kid")
def keys_retire(db_path: str, kid: str) -> None:
    """Stop accepting QR codes signed with KID."""
    try:
        _service(db_path).retire_key(kid)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"retired {kid}")


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="python -m sync_server", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0
