"""One adapter per wxauto generation; the only code that touches the libraries.

- `Wx39Adapter` drives gcwxauto (import name `wxauto`, the WeChat 3.9 API, versions 39.x).
- `Wx4Adapter` drives wxauto4 (WeChat 4.x); same method names where the library has them.

The library is imported lazily, inside `load_library`, so the core imports without it. Every
library call goes through `_call`, which turns the library's exceptions (uiautomation raises
LookupError when a control is gone, COM errors, timeouts) and failed `WxResponse`s into the
project's ChannelUnavailable / SendFailed / ChannelError.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from typing import Any

from ...errors import ChannelError, ChannelUnavailable, ConfigError, SendFailed

log = logging.getLogger("alpha01.wechat")

IMPORT_NAMES = {"wx39": "wxauto", "wx4": "wxauto4"}
#: WeChat versions each adapter is known to drive (checked by the watchdog)
SUPPORTED = {"wx39": ("3.9.",), "wx4": ("4.",)}
PROCESS_NAMES = {"wx39": "wechat.exe", "wx4": "weixin.exe"}


def load_library(generation: str) -> Any:
    name = IMPORT_NAMES[generation]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ChannelUnavailable(
            f"the {name} library is not installed (pip install 'alpha01[wechat]' on Windows)"
        ) from exc
    except Exception as exc:  # the library touches the desktop on import
        raise ChannelUnavailable(f"{name} cannot start: {exc}") from exc


def detect_generation() -> str:
    """Which adapter fits the WeChat that is running: 4.x runs as Weixin.exe, 3.9 as WeChat.exe.

    Falls back to whichever library is installed, gcwxauto first.
    """
    try:
        import psutil

        names = {(p.info.get("name") or "").lower() for p in psutil.process_iter(["name"])}
        for gen, proc in PROCESS_NAMES.items():
            if proc in names:
                return gen
    except Exception:  # psutil missing or not allowed to list processes
        pass
    for gen, name in IMPORT_NAMES.items():
        if importlib.util.find_spec(name) is not None:
            return gen
    return "wx39"


def process_version(generation: str) -> str | None:
    """The file version of the running WeChat executable (Windows only), or None."""
    try:
        import psutil
        import win32api

        for p in psutil.process_iter(["name", "exe"]):
            if (p.info.get("name") or "").lower() == PROCESS_NAMES[generation]:
                info = win32api.GetFileVersionInfo(p.info["exe"], "\\")
                ms, ls = info["FileVersionMS"], info["FileVersionLS"]
                return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"
    except Exception:
        return None
    return None


def _gone(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, LookupError | OSError | TimeoutError) or "Find Control" in text


class Wx39Adapter:
    """gcwxauto (`import wxauto`), WeChat 3.9.x."""

    generation = "wx39"

    def __init__(self, lib: Any = None, *, version_probe: Callable[[], str | None] | None = None
                 ) -> None:
        self._lib = lib
        self._version_probe = version_probe or (lambda: process_version(self.generation))
        self.wx: Any = None
        self.chats: dict[str, Any] = {}  # listened chat name -> library Chat

    @property
    def lib(self) -> Any:
        if self._lib is None:
            self._lib = load_library(self.generation)
        return self._lib

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChannelError:
            raise
        except Exception as exc:
            if _gone(exc):
                raise ChannelUnavailable(f"WeChat window not reachable ({what}): {exc}") from exc
            raise ChannelError(f"WeChat {what} failed: {exc}") from exc

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> None:
        lib = self.lib
        self.wx = self._call("connect", lib.WeChat)
        self.chats = {}

    def account(self) -> str:
        name = getattr(self.wx, "nickname", "") or ""
        try:
            info = self._call("read account", self.wx.GetMyInfo) or {}
            name = info.get("nickname") or name
        except ChannelError:
            pass
        return name

    def version(self) -> str | None:
        return self._version_probe()

    def problem(self) -> str | None:
        """What is wrong with the window right now, or None when it looks usable."""
        if self.wx is None:
            return "not connected"
        try:
            if not self.wx.IsOnline():
                return "WeChat window missing or logged out"
            if not self.wx.GetSession():
                return "WeChat UI tree is empty (window minimised, locked desktop or logged out)"
        except Exception as exc:
            return f"WeChat window not reachable: {exc}"
        return None

    def listener_alive(self) -> bool:
        """Is the library's listener thread running? Restarted once if it died."""
        thread = getattr(self.wx, "_listener_thread", None)
        if thread is None or thread.is_alive():
            return True
        try:
            self.wx.StartListening()
        except Exception:
            return False
        thread = getattr(self.wx, "_listener_thread", None)
        return thread is None or thread.is_alive()

    def listener_lost(self, chats: list[str]) -> list[str]:
        listen = getattr(self.wx, "listen", {}) or {}
        return [c for c in chats if c not in listen]

    # -- reading ------------------------------------------------------------------------------

    def listen(self, chat: str, callback: Callable[[Any, Any], None]) -> bool:
        got = self._call("add listen chat", self.wx.AddListenChat, nickname=chat,
                         callback=callback)
        if isinstance(got, dict) and not got:  # a failed WxResponse
            log.warning("cannot listen to %s: %s", chat, got.get("message"))
            return False
        self.chats[chat] = got
        return True

    def window(self, chat: str) -> list[Any]:
        """Everything the chat's window shows, top to bottom (time separators included)."""
        obj = self.chats.get(chat)
        if obj is None:
            return []
        return list(self._call("read window", obj.GetAllMessage) or [])

    def unlisten(self, chat: str) -> None:
        self.chats.pop(chat, None)
        self._call("remove listen chat", self.wx.RemoveListenChat, nickname=chat)

    def session_names(self) -> list[str] | None:
        """The names in WeChat's session list, or None when it cannot be read."""
        try:
            return [str(s.name) for s in self._call("read sessions", self.wx.GetSession) or []]
        except ChannelError:
            return None

    def peek(self, chat: str) -> list[Any]:
        """Open `chat` in the main window and read everything it shows."""
        got = self._call("open chat", self.wx.ChatWith, who=chat, exact=True)
        if isinstance(got, dict) and not got:
            return []
        return list(self._call("read window", self.wx.GetAllMessage) or [])

    def chat_type(self, chat: str) -> str:
        obj = self.chats.get(chat)
        if obj is None:
            return "friend"
        info = self._call("read chat info", obj.ChatInfo) or {}
        return str(info.get("chat_type") or "friend")

    def next_new(self) -> tuple[str, str, list[Any]] | None:
        got = self._call("scan new messages", self.wx.GetNextNewMessage, filter_mute=False)
        if not got:
            return None
        return str(got["chat_name"]), str(got.get("chat_type") or "friend"), list(got["msg"])

    # -- writing ------------------------------------------------------------------------------

    def send(self, chat: str, text: str, at: str | None = None) -> None:
        target = self.chats.get(chat)
        if target is not None:
            result = self._call("send", target.SendMsg, msg=text, at=at or None)
        else:
            result = self._call("send", self.wx.SendMsg, msg=text, who=chat, at=at or None,
                                exact=True)
        if isinstance(result, dict) and not result:
            raise SendFailed(f"WeChat refused the send to {chat}: {result.get('message')}")

    def new_friends(self) -> list[Any]:
        return list(self._call("read friend requests", self.wx.GetNewFriends, acceptable=True))

    def accept(self, element: Any, remark: str, tags: list[str]) -> None:
        self._call("accept friend", element.accept, remark=remark, tags=tags)

    def close(self) -> None:
        if self.wx is not None:
            try:
                self.wx.StopListening(remove=True)
            except Exception:
                log.debug("stop listening failed", exc_info=True)


class Wx4Adapter(Wx39Adapter):
    """wxauto4, WeChat 4.x. Same calls; features the library lacks are reported, not faked.

    wxauto4 41.1.7 (the pinned version) has no GetNextNewMessage (no global mode), no
    GetNewFriends (no friend auto-accept) and listens to one chat per WeChat instance; it
    reports usage to api.wxauto.org unless `WxParam.TELEMETRY_ENABLED` is off, which `connect`
    turns off: an offline shop PC phones nobody.
    """

    generation = "wx4"

    def connect(self) -> None:
        param = getattr(self.lib, "WxParam", None)
        if param is not None:
            param.TELEMETRY_ENABLED = False
        super().connect()

    def next_new(self) -> tuple[str, str, list[Any]] | None:
        if not hasattr(self.wx, "GetNextNewMessage"):
            raise ConfigError("wechat.mode = \"global\" needs gcwxauto (WeChat 3.9); "
                              "with WeChat 4.x use listen mode")
        return super().next_new()

    def new_friends(self) -> list[Any]:
        if not hasattr(self.wx, "GetNewFriends"):
            return []
        return super().new_friends()


ADAPTERS = {"wx39": Wx39Adapter, "wx4": Wx4Adapter}


def make_adapter(generation: str, lib: Any = None, **kwargs: Any) -> Wx39Adapter:
    if generation == "auto":
        generation = detect_generation()
    if generation not in ADAPTERS:
        raise ConfigError(f"wechat.adapter must be auto, wx39 or wx4, got {generation!r}")
    return ADAPTERS[generation](lib, **kwargs)
