"""`alpha01 key`: the database key as a recovery code, for moving the data to another PC.

The key is kept by this PC's user (DPAPI, keyring or key file; see vault.py), so a copied data
folder cannot be opened elsewhere without it: `key show` on the old PC, `key restore` on the new.
"""

from __future__ import annotations

import re
from typing import Any

import click

from .clitext import t


@click.group(help=t("lazy.key"))
def key() -> None:
    pass


@key.command("show", help=t("key.show.help"))
@click.pass_obj
def key_show(app: Any) -> None:
    from .storage.db import Database

    db = Database.open_home(app.paths, reader=True)  # the key in use, and it opens the data
    code = db.key
    db.close()
    if code is None:
        raise click.ClickException(t("key.not_encrypted"))
    click.echo(t("key.code", code=format_code(code)))
    click.echo(t("key.keep"))


@key.command("restore", help=t("key.restore.help"))
@click.argument("code", nargs=-1, required=True)
@click.pass_obj
def key_restore(app: Any, code: tuple[str, ...]) -> None:
    from .errors import StorageError
    from .storage.db import connect, db_errors
    from .vault import Vault

    raw = re.sub(r"[\s\-:：]", "", "".join(code)).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", raw):
        raise click.ClickException(t("key.bad_format"))
    if app.paths.db.exists():
        try:
            connect(app.paths.db, key=raw, readonly=True).close()
        except (StorageError, *db_errors()) as exc:
            raise click.ClickException(t("key.wrong", path=app.paths.db)) from exc
    app.paths.ensure()
    Vault(app.paths.home).restore_database_key(raw)
    click.echo(t("key.restored", path=app.paths.db))


def format_code(key: str) -> str:
    return "-".join(key[i:i + 8] for i in range(0, len(key), 8))
