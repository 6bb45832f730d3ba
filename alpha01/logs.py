"""The log file: `logs/alpha01.log` in the home, rotating, owner-only, with personal data hidden.

Every `alpha01.*` logger (the app, the engine, the channels, the jobs) writes there once
`setup()` ran. The formatter redacts each finished line, tracebacks included: mobile numbers,
ID-card numbers, street addresses, bearer tokens, `key=value` secrets, API keys of the form
`<id>.<secret>` and long random strings. Message texts are not logged at all (no log call passes
one); the redaction is the net under that rule.

An uncaught exception (the exe, the CLI, a thread, the TUI) is written to the log before the
process ends (`install_crash_hooks`, `log_crash`).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

from .errors import HomeError
from .paths import Paths, private_dir, private_file

LOG_NAME = "alpha01.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

_CJK = "\u4e00-\u9fff"
# Order matters: the specific patterns first, the catch-all long strings last.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # Authorization headers and key=value / key: value secrets.
    (re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"), r"\1[令牌]"),
    (re.compile(r"(?i)((?:api[_-]?key|access[_-]?token|token|secret|password|passwd|cookie"
                r"|key)[\"']?\s*[=:]\s*[\"']?)[^\s'\",;&]+"), r"\1[密钥]"),
    # Zhipu-style API keys: <id>.<secret>.
    (re.compile(r"(?<![\w.])[0-9A-Za-z]{16,}\.[0-9A-Za-z]{8,}(?![\w])"), "[密钥]"),
    # 18-digit resident ID numbers (the last may be X).
    (re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx]"
                r"(?![0-9A-Za-z])"), "[身份证号]"),
    # Mainland mobile numbers, with or without +86 and separators.
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "[手机号]"),
    # Addresses: a place word (省市区县镇路街巷弄…) followed by a house number (…号/栋/室/单元),
    # or a chain of two or more administrative units (XX省XX市, XX市XX区).
    (re.compile(rf"[{_CJK}0-9A-Za-z]{{0,12}}(?:省|市|区|县|镇|乡|村|街道|大道|路|街|巷|弄)"
                rf"[{_CJK}0-9A-Za-z\-]{{0,20}}?\d+\s*(?:号楼|号院|号|栋|幢|室|单元)"
                rf"(?:[{_CJK}0-9A-Za-z\-]{{0,12}}?\d+\s*(?:号|栋|幢|楼|层|室|单元))*"), "[地址]"),
    (re.compile(rf"(?:[{_CJK}]{{1,8}}?(?:省|自治区|市|区|县|镇|乡|街道)){{2,}}"
                rf"[{_CJK}0-9]{{0,20}}"), "[地址]"),
    # Long random-looking strings (tokens, keys, secrets): 24+ letters, digits, - or _,
    # with at least one digit and one letter.
    (re.compile(r"(?<![\w/\\.-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]{24,}(?![\w-])"),
     "[令牌]"),
]


def redact(text: str) -> str:
    """The text with personal data and secrets replaced by [手机号], [地址], [密钥] …"""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file whose every generation is created owner-only (0600)."""

    def _open(self) -> Any:
        stream = super()._open()
        private_file(Path(self.baseFilename))
        return stream


_installed: logging.Handler | None = None
_hooked = False


def log_file(paths: Paths) -> Path:
    return paths.logs / LOG_NAME


def setup(paths: Paths, *, level: int = logging.INFO) -> Path | None:
    """Send the `alpha01` loggers to the home's log file (replacing an earlier home's).

    Returns the file, or None when the home cannot hold one (the app still runs; doctor says so).
    """
    global _installed
    target = log_file(paths)
    logger = logging.getLogger("alpha01")
    if _installed is not None:
        if getattr(_installed, "baseFilename", None) == str(target.resolve()):
            return target
        shutdown()
    try:
        paths.ensure()
        paths.logs.mkdir(exist_ok=True)
        private_dir(paths.logs)
        handler = PrivateRotatingFileHandler(target, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                             encoding="utf-8", delay=False)
    except (OSError, HomeError):
        return None
    handler.setFormatter(RedactingFormatter(FORMAT))
    handler.setLevel(level)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    _installed = handler
    return target


def shutdown() -> None:
    """Detach and close the log file `setup()` opened (a later `setup()` opens one again)."""
    global _installed
    if _installed is not None:
        logging.getLogger("alpha01").removeHandler(_installed)
        _installed.close()
        _installed = None


def current_file() -> Path | None:
    """The file `setup()` sends the log to, if it ran."""
    return Path(_installed.baseFilename) if isinstance(_installed, logging.FileHandler) else None


def crash_note(exc: BaseException) -> str:
    """What the owner reads when the program stops on a bug: where the details are."""
    from .clitext import t

    where = current_file()
    kind = type(exc).__name__
    return t("crash.logged", kind=kind, path=where) if where else t("crash.no_log", kind=kind)


def log_crash(exc: BaseException, where: str = "") -> None:
    """Write an uncaught exception with its traceback to the log (if one is set up)."""
    logging.getLogger("alpha01.crash").critical(
        "uncaught exception%s: %s", f" in {where}" if where else "", type(exc).__name__,
        exc_info=(type(exc), exc, exc.__traceback__))
    if _installed is not None:
        _installed.flush()


def install_crash_hooks() -> None:
    """Uncaught exceptions of the main thread and of other threads go to the log too."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            log_crash(exc.with_traceback(tb))
        previous(kind, exc, tb)

    previous_thread = threading.excepthook

    def thread_hook(args: Any) -> None:
        if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
            log_crash(args.exc_value, where=f"thread {getattr(args.thread, 'name', '?')}")
        previous_thread(args)

    global _hooked
    if not _hooked:
        sys.excepthook = hook
        threading.excepthook = thread_hook
        _hooked = True


def last_error(paths: Paths) -> str | None:
    """The last ERROR or CRITICAL line of the log (already redacted), or None."""
    path = log_file(paths)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 256_000))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        parts = line.split(" ", 3)
        if len(parts) > 2 and parts[2] in ("ERROR", "CRITICAL"):
            return line
    return None
