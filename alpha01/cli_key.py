"""`alpha01 key`: the database key as a recovery code, for moving the data to another PC.

The key is kept by this PC's user (DPAPI, keyring or key file; see vault.py), so a copied data
folder cannot be opened elsewhere without it: `key show` on the old PC, `key restore` on the new.
"""

from __future__ import annotations

import re
from typing import Any

import click


@click.group()
def key() -> None:
    """数据库密钥：显示恢复码、在新电脑上恢复（换电脑时用）。"""


@key.command("show")
@click.pass_obj
def key_show(app: Any) -> None:
    """显示数据库的恢复码（换电脑时抄下来，在新电脑上用 key restore 恢复）。"""
    from .storage.db import Database

    db = Database.open_home(app.paths, reader=True)  # the key in use, and it opens the data
    code = db.key
    db.close()
    if code is None:
        raise click.ClickException("数据库还没有加密（下次启动时会自动加密），暂时没有恢复码")
    click.echo(f"恢复码：{format_code(code)}")
    click.echo("恢复码就是数据库的钥匙：请抄在纸上妥善保管，不要拍照发给别人。")


@key.command("restore")
@click.argument("code", nargs=-1, required=True)
@click.pass_obj
def key_restore(app: Any, code: tuple[str, ...]) -> None:
    """在这台电脑上用恢复码打开从别处复制来的数据库。"""
    from .errors import StorageError
    from .storage.db import connect, db_errors
    from .vault import Vault

    raw = re.sub(r"[\s\-:：]", "", "".join(code)).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", raw):
        raise click.ClickException("恢复码应为 64 位（0-9、a-f），请核对后重试")
    if app.paths.db.exists():
        try:
            connect(app.paths.db, key=raw, readonly=True).close()
        except (StorageError, *db_errors()) as exc:
            raise click.ClickException(f"这个恢复码打不开 {app.paths.db}：请核对后重试") from exc
    app.paths.ensure()
    Vault(app.paths.home).restore_database_key(raw)
    click.echo(f"已恢复：{app.paths.db} 可以在这台电脑上使用了。")


def format_code(key: str) -> str:
    return "-".join(key[i:i + 8] for i in range(0, len(key), 8))
