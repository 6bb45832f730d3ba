"""`alpha01 wecom setup`: the 微信客服 settings, with its secrets in the OS secret store."""

from __future__ import annotations

from typing import Any

import click

from .clitext import t


@click.group(help=t("lazy.wecom"))
def wecom() -> None:
    pass


@wecom.command("setup", help=t("wecom.setup.help"))
@click.option("--corp-id", required=True, help=t("wecom.opt.corp_id"))
@click.option("--open-kfid", required=True, help=t("wecom.opt.open_kfid"))
@click.option("--secret", prompt=True, hide_input=True, help=t("wecom.opt.secret"))
@click.option("--token", default="", help=t("wecom.opt.token"))
@click.option("--aes-key", default="", help=t("wecom.opt.aes_key"))
@click.option("--base-url", default=None, help=t("wecom.opt.base_url"))
@click.option("--servicer", default=None, help=t("wecom.opt.servicer"))
@click.option("--check/--no-check", default=False, help=t("wecom.opt.check"))
@click.pass_obj
def wecom_setup(app: Any, corp_id: str, open_kfid: str, secret: str, token: str, aes_key: str,
                base_url: str | None, servicer: str | None, check: bool) -> None:
    from .channels.wecom.crypto import CallbackError
    from .channels.wecom.crypto import aes_key as parse_key

    if aes_key:
        try:
            parse_key(aes_key)
        except CallbackError as exc:
            raise click.ClickException(t("wecom.bad_key", detail=exc)) from exc
    w = app.settings.wecom
    w.corp_id, w.open_kfid, w.secret = corp_id.strip(), open_kfid.strip(), secret.strip()
    w.token, w.encoding_aes_key = token.strip(), aes_key.strip()
    if base_url is not None:
        w.base_url = base_url.strip()
    if servicer is not None:
        w.servicer_userid = servicer.strip()
    if check:
        from .channels.wecom.client import KfClient, WeComError

        client = KfClient(w.corp_id, w.secret, base_url=w.base_url, timeout_s=w.timeout_s)
        try:
            client.access_token()
        except WeComError as exc:
            raise click.ClickException(t("wecom.check_failed", detail=exc)) from exc
        finally:
            client.close()
    app.save_settings()
    click.echo(t("wecom.saved"))
