"""The home's secrets, kept where the operating system protects them.

What is kept: the database key, the sync device secret and the Zhipu API key (one small JSON
object). Where, decided once per home and then kept:

- Windows: DPAPI for the current user (`secrets.dpapi` in the home, unreadable for anyone else
  and on any other PC);
- elsewhere, the system keyring when one works (service `alpha01`, the home's path as the user
  name; `secrets.keyring` in the home only says so);
- else `secrets.key` in the home, readable by its owner only (0600): as safe as the home folder,
  and `doctor` says so.

A home that already has one of these files keeps that place, so a keyring that appears or
disappears later never hides the key of an existing database.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

from .config import SECRET_KEYS
from .errors import HomeError
from .paths import exclusive, write_private

SERVICE = "alpha01"
DPAPI_FILE = "secrets.dpapi"
KEYRING_FILE = "secrets.keyring"
PLAIN_FILE = "secrets.key"
LOCK_FILE = "secrets.lock"
DB_KEY = "db_key"
ENV_NO_KEYRING = "ALPHA01_NO_KEYRING"
MOVED_HINT = ("如果这个数据文件夹是从另一台电脑或另一个用户复制来的：在原来的电脑上运行"
              " `alpha01 key show` 抄下恢复码，再在这里运行 `alpha01 key restore 恢复码`")
KEYRING_DEADLINE_S = 10.0  # a keyring daemon that never answers must not hang the app


class Vault:
    """get / set / delete named secrets of one home."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.kind = self._choose()
        self._lock = threading.Lock()
        self._cache: dict[str, str] | None = None

    # -- where ------------------------------------------------------------------------------

    def _choose(self) -> str:
        for kind, name in (("dpapi", DPAPI_FILE), ("keyring", KEYRING_FILE),
                           ("file", PLAIN_FILE)):
            if (self.home / name).exists():
                return kind
        if sys.platform == "win32":
            return "dpapi"
        return "keyring" if keyring_works() else "file"

    @property
    def location(self) -> str:
        """Where the secrets are, in the owner's words (for doctor)."""
        if self.kind == "dpapi":
            return f"Windows DPAPI（仅当前用户可解密）: {self.home / DPAPI_FILE}"
        if self.kind == "keyring":
            return f"系统钥匙串（{SERVICE} / {self._user}）"
        return (f"密钥文件 {self.home / PLAIN_FILE}（仅本人可读 0600；"
                "本机没有可用的系统钥匙串，安全程度等同主目录）")

    @property
    def _user(self) -> str:
        return str(self.home.resolve())

    # -- reading and writing -----------------------------------------------------------------

    def get(self, name: str) -> str | None:
        return self._all().get(name)

    def set(self, name: str, value: str) -> None:
        self._update(lambda data: data.__setitem__(name, value))

    def delete(self, name: str) -> None:
        self._update(lambda data: data.pop(name, None))

    def database_key(self) -> str:
        """The database's raw key (64 hex digits), made and stored on first use."""
        key = self.get(DB_KEY)
        if key:
            return key
        return self._update(lambda data: data.setdefault(DB_KEY, secrets.token_hex(32)))[DB_KEY]

    def _update(self, change: Any) -> dict[str, str]:
        """Read, change, write, under a lock between processes and after reading the store
        again: two processes starting on a new home must not each save a key of their own, and
        a secret saved by another process meanwhile is kept."""
        with self._lock, exclusive(self.home / LOCK_FILE):
            self._cache = None
            data = dict(self._all())
            before = dict(data)
            change(data)
            if data != before:
                self._save(data)
            return data

    def restore_database_key(self, key: str) -> None:
        """Put a database key (a recovery code from `alpha01 key show`) into this PC's store.

        A store this PC cannot read (another PC's or user's DPAPI, a keyring entry that is gone,
        a damaged file) is set aside as `*.unreadable` and a new one begins: its other secrets
        (sync device secret, Zhipu key) have to be entered again.
        """
        try:
            self._update(lambda data: data.__setitem__(DB_KEY, key))
            return
        except HomeError:
            pass
        with self._lock, exclusive(self.home / LOCK_FILE):
            for name in (DPAPI_FILE, KEYRING_FILE, PLAIN_FILE):
                path = self.home / name
                if path.exists():
                    path.replace(path.with_name(name + ".unreadable"))
            self.kind = self._choose()
            self._save({DB_KEY: key})

    def _all(self) -> dict[str, str]:
        if self._cache is None:
            raw = self._load()
            try:
                self._cache = json.loads(raw) if raw else {}
            except ValueError as exc:
                raise HomeError(f"密钥存储无法读取（{self.location}）：{exc}。{MOVED_HINT}") \
                    from exc
        return self._cache

    def _load(self) -> str:
        if self.kind == "dpapi":
            path = self.home / DPAPI_FILE
            if not path.exists():
                return ""
            try:
                return _dpapi(path.read_bytes(), protect=False).decode("utf-8")
            except HomeError as exc:
                raise HomeError(f"{exc}。{MOVED_HINT}") from exc
        if self.kind == "keyring":
            if not (self.home / KEYRING_FILE).exists():
                return ""
            value = _keyring_call("get_password", SERVICE, self._user)
            if value is None:
                raise HomeError(f"系统钥匙串里找不到本主目录的密钥（{SERVICE} / {self._user}）："
                                f"请解锁钥匙串后重试。{MOVED_HINT}")
            return value
        path = self.home / PLAIN_FILE
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def _save(self, data: dict[str, str]) -> None:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        self.home.mkdir(parents=True, exist_ok=True)
        if self.kind == "dpapi":
            write_private(self.home / DPAPI_FILE, _dpapi(text.encode("utf-8"), protect=True))
        elif self.kind == "keyring":
            _keyring_call("set_password", SERVICE, self._user, text)
            marker = self.home / KEYRING_FILE
            if not marker.exists():
                write_private(marker, f"alpha01 的密钥保存在系统钥匙串：{SERVICE} / {self._user}\n"
                              .encode())
        else:
            write_private(self.home / PLAIN_FILE, text.encode("utf-8"))
        self._cache = data


# The operating system's own keyrings (keyring's backends for them). Others, such as the
# keyrings.alt files, count only when the user chose one with PYTHON_KEYRING_BACKEND.
SYSTEM_KEYRINGS = ("keyring.backends.macOS", "keyring.backends.Windows",
                   "keyring.backends.SecretService", "keyring.backends.libsecret",
                   "keyring.backends.kwallet")


def keyring_works() -> bool:
    """A keyring package with a real backend: the system's, or the one the user configured
    (never the 'fail' or 'null' placeholders). ALPHA01_NO_KEYRING=1 says no (the tests: they must
    not write to the developer's keyring)."""
    if os.environ.get(ENV_NO_KEYRING, "") not in ("", "0"):
        return False
    try:
        import keyring
    except ImportError:
        return False
    try:
        backend = _with_deadline(keyring.get_keyring)
    except Exception:
        return False
    chosen = [type(b).__module__ for b in getattr(backend, "backends", [backend])]
    chosen = [m for m in chosen if m not in ("keyring.backends.fail", "keyring.backends.null")]
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return bool(chosen)
    return any(m.startswith(SYSTEM_KEYRINGS) for m in chosen)


def _keyring_call(name: str, *args: Any) -> Any:
    import keyring

    try:
        return _with_deadline(lambda: getattr(keyring, name)(*args))
    except TimeoutError as exc:
        raise HomeError(f"系统钥匙串 {KEYRING_DEADLINE_S:.0f} 秒内没有回应") from exc
    except Exception as exc:  # keyring.errors.* and the backends' own errors
        raise HomeError(f"系统钥匙串出错：{exc}") from exc


def _with_deadline(fn: Any) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="keyring", daemon=True)
    worker.start()
    worker.join(KEYRING_DEADLINE_S)
    if worker.is_alive():
        raise TimeoutError("keyring")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _dpapi(data: bytes, *, protect: bool) -> bytes:
    """CryptProtectData / CryptUnprotectData for the current user (Windows only)."""
    import ctypes
    from ctypes import wintypes

    class Blob(ctypes.Structure):
        _fields_ = [("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_char))]

    crypt32 = ctypes.WinDLL("crypt32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    buf = ctypes.create_string_buffer(data, len(data))
    blob_in = Blob(len(data), ctypes.cast(buf, ctypes.POINTER(ctypes.c_char)))
    blob_out = Blob()
    ui_forbidden = 0x1  # CRYPTPROTECT_UI_FORBIDDEN
    if protect:
        ok = crypt32.CryptProtectData(ctypes.byref(blob_in), "alpha01", None, None, None,
                                      ui_forbidden, ctypes.byref(blob_out))
    else:
        ok = crypt32.CryptUnprotectData(ctypes.byref(blob_in), None, None, None, None,
                                        ui_forbidden, ctypes.byref(blob_out))
    if not ok:
        raise HomeError(f"Windows DPAPI 失败（错误 {ctypes.get_last_error()}）")
    try:
        return ctypes.string_at(blob_out.pbData, blob_out.cbData)
    finally:
        kernel32.LocalFree(blob_out.pbData)


# -- settings.toml secrets --------------------------------------------------------------------


def take_secrets(settings: Any, vault: Vault) -> bool:
    """Move secrets found in the settings into the vault; fill empty ones from it.

    Returns True when the settings held a secret (the file should be saved again, cleaned).
    """
    moved = False
    for section, key in SECRET_KEYS:
        part = getattr(settings, section)
        value = getattr(part, key)
        name = f"{section}.{key}"
        if value:
            vault.set(name, value)
            moved = True
        else:
            setattr(part, key, vault.get(name) or "")
    return moved


def store_secrets(settings: Any, vault: Vault) -> None:
    """Before saving the settings: their secrets go to the vault (an emptied one is removed)."""
    for section, key in SECRET_KEYS:
        value = getattr(getattr(settings, section), key)
        name = f"{section}.{key}"
        if value:
            vault.set(name, value)
        else:
            vault.delete(name)

