"""FakeWeChat: a scriptable stand-in for the WeChat libraries: `wxauto` (gcwxauto, WeChat 3.9)
and `wxauto4` (WeChat 4.x, `FakeWeChat(generation="wx4")`).

The classes below carry the libraries' names and method signatures (contract tests compare them
with the real gcwxauto source and with wxauto4's .pyi stubs and compiled modules), so the adapter
code that drives the real library runs unchanged against this fake on any OS. wxauto4 41.1.7 has
no GetNextNewMessage and no GetNewFriends, and listens to one chat per instance: the wx4 fake
has the same gaps. The world behind them is scripted by the tests:

    world = FakeWeChat(clock=clock, nickname="果然鲜")
    world.add_chat("小王")
    world.customer_says("小王", "这个多少钱")
    world.owner_types("小王", "我来回答")
    world.redraw("小王")              # every message gets a new runtime id
    world.reopen("小王")              # the whole window is delivered again, ids changed
    world.friend_request("阿珍", "店码 ABC234")
    world.fail_next_send("网络异常")
    world.window_lost = True          # or logged_out / ui_empty / version / listener_dead
    world.rename("小王", "王大锤")      # the contact renamed himself: same window, new name

`world.module` is what `import wxauto` would give the adapter.
"""

from __future__ import annotations

import itertools
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TIME_GAP_S = 300.0  # WeChat shows a time separator after about five quiet minutes
PROJECT_NAME = "wxauto"


# -- library value types (names and signatures as in gcwxauto) ---------------------------------

class WxResponse(dict):
    def __init__(self, status: str, message: str, data: dict = None):
        super().__init__(status=status, message=message, data=data)

    def __bool__(self):
        return self.is_success

    @property
    def is_success(self):
        return self["status"] == "成功"

    @classmethod
    def success(cls, message=None, data: dict = None):
        return cls(status="成功", message=message, data=data)

    @classmethod
    def failure(cls, message: str, data: dict = None):
        return cls(status="失败", message=message, data=data)

    @classmethod
    def error(cls, message: str, data: dict = None):
        return cls(status="错误", message=message, data=data)


@dataclass
class _Control:
    """The few UI-control facts the message classes read."""

    Name: str
    runtimeid: str
    sender: str = ""
    time: str = ""


class _ChatBox:
    def __init__(self, world: FakeWeChat, chat: str):
        self.root = world
        self.world = world
        self.chat = chat

    def get_info(self) -> dict:
        return self.world._info(self.chat)


class Message:
    ...


class BaseMessage(Message):
    type: str = "base"
    attr: str = "base"

    def __init__(self, control, parent, sub_control_pointer=None):
        self.control = control
        self.parent = parent
        self.sub_control_pointer = sub_control_pointer
        self.root = parent.root
        self.content = control.Name
        self.id = control.runtimeid
        self.hash = ""
        self.sender = self.attr
        self.sender_remark = self.attr

    def __repr__(self):
        return f"<{PROJECT_NAME} - {type(self).__name__}({self.content[:8]})>"

    def chat_info(self):
        return self.parent.get_info()


class HumanMessage(BaseMessage):
    attr = "human"


class SystemMessage(BaseMessage):
    attr = "system"

    def __init__(self, control, parent, sub_control_pointer=None):
        super().__init__(control, parent, sub_control_pointer)
        self.sender = "system"
        self.sender_remark = "system"


class TimeMessage(SystemMessage):
    attr = "time"

    def __init__(self, control, parent, sub_control_pointer=None):
        super().__init__(control, parent, sub_control_pointer)
        self.time = control.time


class FriendMessage(HumanMessage):
    attr = "friend"

    def __init__(self, control, parent, sub_control_pointer=None):
        super().__init__(control, parent, sub_control_pointer)
        self.sender = control.sender
        self.sender_remark = control.sender


class SelfMessage(HumanMessage):
    attr = "self"


class TextMessage(HumanMessage):
    type = "text"


class ImageMessage(HumanMessage):
    type = "image"


class FriendTextMessage(FriendMessage, TextMessage):
    def __init__(self, control, parent, sub_controls=None):
        super().__init__(control, parent, sub_controls)


class FriendImageMessage(FriendMessage, ImageMessage):
    def __init__(self, control, parent, sub_controls=None):
        super().__init__(control, parent, sub_controls)


class SelfTextMessage(SelfMessage, TextMessage):
    def __init__(self, control, parent, sub_controls=None):
        super().__init__(control, parent, sub_controls)


_CLASSES: dict[tuple[str, str], type] = {
    ("friend", "text"): FriendTextMessage, ("friend", "image"): FriendImageMessage,
    ("self", "text"): SelfTextMessage, ("time", ""): TimeMessage, ("system", ""): SystemMessage,
}


class NewFriendElement:
    def __init__(self, control, parent):
        self.parent = parent
        self.root = parent.root
        self.control = control
        self.id = control.runtimeid
        self.name = control.Name
        self.msg = control.sender  # the request text
        self.acceptable = control.time != "accepted"
        self.info = {"id": self.id, "name": self.name, "msg": self.msg,
                     "acceptable": self.acceptable}

    def accept(self, remark=None, tags=None, permission="朋友圈"):
        self.root._accept(self, remark, tags, permission)

    def delete(self):
        self.root._friend_requests = [r for r in self.root._friend_requests
                                      if r.name != self.name]


class SessionElement:
    def __init__(self, control, parent):
        self.root = parent.root
        self.name = control.Name
        self.content = control.sender
        self.new_count = int(control.time or 0)


# -- the window objects --------------------------------------------------------------------------

class Chat:
    """A chat window (the main window, or one split out by AddListenChat)."""

    def __init__(self, core=None):
        self._api = core
        self.who = core.nickname

    def __str__(self):
        return self.who

    def ChatInfo(self):
        return self._api.world._info(self.who)

    def SendMsg(self, msg: str, who: str = None, clear: bool = True, at=None,
                exact: bool = False):
        return self._api.world._send(msg, who or self.who, at)

    def GetAllMessage(self):
        return self._api.world._messages(self.who)

    def GetNewMessage(self):
        return self._api.world._take_new(self.who)

    def Show(self):
        self._api.world._check_window()

    def Close(self) -> None:
        self._api.world._close(self.who)


@dataclass
class _SubWnd:
    world: FakeWeChat
    nickname: str

    def exists(self, wait=0):
        return self.world._window_ok() and self.nickname in self.world._open_windows


class WeChat(Chat):
    """The main window. `world` is bound by FakeWeChat.module (one class per world)."""

    _world: FakeWeChat

    def __init__(self, nickname: str = None, debug: bool = False, **kwargs):
        world = self._world
        world._check_window()
        self._api = _SubWnd(world, world.nickname)
        self.who = world.nickname
        self.nickname = world.nickname
        self.listen: dict[str, tuple[Chat, Callable]] = {}
        world._clients.append(self)

    def IsOnline(self) -> bool:
        return self._world._window_ok()

    def GetMyInfo(self):
        self._world._check_window()
        return {"nickname": self._world.nickname, "id": "wxid_fake"}

    def GetSession(self):
        w = self._world
        w._check_window()
        if w.ui_empty:
            return []
        box = _ChatBox(w, "")
        sessions = [SessionElement(_Control("文件传输助手", "s-0", "", "0"), box)]
        return sessions + [SessionElement(_Control(n, f"s-{n}", "", str(len(c.unread))), box)
                           for n, c in w._chats.items()]

    def ChatWith(self, who: str, exact: bool = False, force: bool = False,
                 force_wait=0.5):
        self._world._check_window()
        if who not in self._world._chats:
            return WxResponse.failure("找不到聊天窗口")
        self._world._current = who
        return who

    def AddListenChat(self, nickname: str, callback):
        w = self._world
        w._check_window()
        if nickname in self.listen:
            return WxResponse.failure("该聊天已监听")
        if nickname not in w._chats:
            return WxResponse.failure("找不到聊天窗口")
        w._open_windows.add(nickname)
        w._chats[nickname].unread.clear()
        chat = Chat(_SubWnd(w, nickname))
        self.listen[nickname] = (chat, callback)
        return chat

    def RemoveListenChat(self, nickname: str, close_window: bool = True):
        if nickname not in self.listen:
            return WxResponse.failure("未找到监听对象")
        if close_window:
            self._world._open_windows.discard(nickname)
        del self.listen[nickname]
        return WxResponse.success()

    def StopListening(self, remove: bool = True) -> None:
        if remove:
            for who in list(self.listen):
                self.RemoveListenChat(who)

    def StartListening(self) -> None:
        if not self._world.listener_stuck:
            self._world.listener_dead = False

    @property
    def _listener_thread(self):
        world = self._world
        return types.SimpleNamespace(is_alive=lambda: not world.listener_dead)

    def GetNextNewMessage(self, filter_mute=False):
        return self._world._next_new(self)

    def GetAllMessage(self):
        """The main window shows the chat last opened (by ChatWith or a new-message scan)."""
        return self._world._messages(self._world._current or "")

    def GetNewFriends(self, acceptable: bool = True):
        w = self._world
        w._check_window()
        box = _ChatBox(w, "")
        return [NewFriendElement(_Control(r.name, r.id, r.msg,
                                          "accepted" if r.accepted else ""), box)
                for r in w._friend_requests if not (acceptable and r.accepted)]


class WeChat4(Chat):
    """wxauto4's main window: no GetNextNewMessage, no GetNewFriends, one listened chat."""

    _world: FakeWeChat

    def __init__(self, debug: bool = False, resize: bool = True, **kwargs):
        WeChat.__init__(self)

    IsOnline = WeChat.IsOnline
    GetMyInfo = WeChat.GetMyInfo
    GetSession = WeChat.GetSession
    RemoveListenChat = WeChat.RemoveListenChat
    GetAllMessage = WeChat.GetAllMessage
    StopListening = WeChat.StopListening
    StartListening = WeChat.StartListening
    _listener_thread = WeChat._listener_thread

    def ChatWith(self, who: str, exact: bool = True, force: bool = False,
                 force_wait: float | int = 0.5):
        return WeChat.ChatWith(self, who, exact, force, force_wait)

    def AddListenChat(self, nickname: str, callback):
        if self.listen and nickname not in self.listen:
            return WxResponse.failure("当前实例只允许监听一个聊天")
        return WeChat.AddListenChat(self, nickname, callback)


class WxParam:
    """wxauto4's settings class (the fields the adapter touches)."""

    TELEMETRY_ENABLED: bool = True
    ENABLE_FILE_LOGGER: bool = True


# -- the scripted world --------------------------------------------------------------------------

@dataclass
class _Item:
    attr: str  # friend | self | time | system
    type: str  # text | image | "" (time, system)
    sender: str
    content: str
    id: str
    at: float
    time: str = ""


@dataclass
class _ChatState:
    kind: str  # friend | group
    items: list[_Item] = field(default_factory=list)
    unread: list[_Item] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


@dataclass
class _Request:
    name: str
    msg: str
    id: str
    accepted: bool = False
    remark: str | None = None
    tags: list[str] | None = None


class FakeWeChat:
    """The scripted WeChat behind the fake library classes."""

    def __init__(self, *, clock: Any = None, nickname: str = "小店",
                 version: str | None = None, generation: str = "wx39") -> None:
        if generation not in ("wx39", "wx4"):
            raise ValueError(f"generation must be wx39 or wx4, got {generation!r}")
        version = version or ("3.9.12.51" if generation == "wx39" else "4.0.6.21")
        self.generation = generation
        self.clock = clock
        self.nickname = nickname
        self.version = version
        self.window_lost = False
        self.logged_out = False
        self.ui_empty = False
        self.listener_dead = False  # the library's listener thread died
        self.listener_stuck = False  # ... and StartListening cannot revive it
        self.sent: list[dict[str, Any]] = []  # every SendMsg that went out
        self.send_calls = 0
        self._ids = itertools.count(1)
        self._chats: dict[str, _ChatState] = {}
        self._open_windows: set[str] = set()
        self._friend_requests: list[_Request] = []
        self._fail: list[str] = []
        self._clients: list[WeChat] = []
        self._current: str | None = None
        self._redeliver_on_open: set[str] = set()
        if generation == "wx39":
            self.module = types.SimpleNamespace(
                WeChat=type("WeChat", (WeChat,), {"_world": self}), Chat=Chat,
                WxResponse=WxResponse, __name__="wxauto", __version__="39.fake")
        else:
            self.module = types.SimpleNamespace(
                WeChat=type("WeChat", (WeChat4,), {"_world": self}), Chat=Chat,
                WxParam=type("WxParam", (WxParam,), {}), WxResponse=WxResponse,
                __name__="wxauto4", __version__="41.fake")

    # -- scripting ----------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    def add_chat(self, name: str, *, group: bool = False, history: list[tuple[str, str]] = (),
                 members: list[str] = ()) -> None:
        """A chat in the session list, with optional history: (sender or "self", text)."""
        self._chats[name] = _ChatState("group" if group else "friend", members=list(members))
        for sender, text in history:
            self._append(name, sender, text, unread=False)

    def customer_says(self, chat: str, text: str, *, sender: str | None = None,
                      kind: str = "text") -> None:
        if chat not in self._chats:
            self.add_chat(chat)
        self._append(chat, sender or chat, text, mtype=kind)

    def owner_types(self, chat: str, text: str) -> None:
        """The merchant types into the chat on the PC or the phone."""
        self._append(chat, "self", text)

    def redraw(self, chat: str) -> None:
        """The window redraws: every message gets a new runtime id (nothing is delivered)."""
        for item in self._chats[chat].items:
            item.id = f"r{next(self._ids)}"

    def reopen(self, chat: str) -> None:
        """The window is opened again: all visible history is delivered again, ids changed."""
        self.redraw(chat)
        state = self._chats[chat]
        state.unread = list(state.items)
        self._deliver(chat)

    def redeliver_on_open(self, chat: str) -> None:
        """In global mode, the next new-message scan of `chat` returns its whole window."""
        self._redeliver_on_open.add(chat)

    def friend_request(self, name: str, msg: str = "") -> None:
        self._friend_requests.append(_Request(name, msg, f"f{next(self._ids)}"))

    def rename(self, old: str, new: str) -> None:
        """The contact changed his name (or the owner changed the remark): the same window and
        history under a new name in the session list; a listener on the old name is lost."""
        self._chats[new] = self._chats.pop(old)
        if old in self._open_windows:
            self._open_windows.discard(old)
        for client in self._clients:
            client.listen.pop(old, None)
        if self._current == old:
            self._current = new

    def fail_next_send(self, message: str = "发送失败", times: int = 1) -> None:
        self._fail.extend([message] * times)

    def window_lines(self, chat: str) -> list[tuple[str, str]]:
        """What the chat's window shows, as (friend | self | time, text): for screenshots."""
        return [(i.attr, i.content) for i in self._chats[chat].items]

    def sent_to(self, chat: str) -> list[str]:
        return [s["msg"] for s in self.sent if s["who"] == chat]

    # -- internals the fake classes call -------------------------------------------------------

    def _window_ok(self) -> bool:
        return not (self.window_lost or self.logged_out)

    def _check_window(self) -> None:
        if self.window_lost:
            raise LookupError("Find Control Timeout(10s): {ClassName: 'WeChatMainWndForPC'}")
        if self.logged_out:
            raise LookupError("Find Control Timeout(10s): 微信 (login window)")

    def _append(self, chat: str, sender: str, text: str, *, unread: bool = True,
                mtype: str = "text") -> None:
        state = self._chats[chat]
        now = self.now()
        humans = [i for i in state.items if i.attr != "time"]
        if not humans or now - humans[-1].at >= TIME_GAP_S:
            stamp = datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S")
            marker = _Item("time", "", "system", stamp[11:16], f"m{next(self._ids)}", now,
                           time=stamp)
            state.items.append(marker)
            if unread:
                state.unread.append(marker)
        attr = "self" if sender == "self" else "friend"
        item = _Item(attr, mtype, sender if attr == "friend" else "self", text,
                     f"m{next(self._ids)}", now)
        state.items.append(item)
        if unread:
            state.unread.append(item)
            self._deliver(chat)

    def _listener(self, chat: str):
        for client in self._clients:
            if chat in client.listen and not self.listener_dead:
                return client.listen[chat]
        return None

    def _deliver(self, chat: str) -> None:
        """The library's listener thread: hand new messages of a listened chat to its callback."""
        found = self._listener(chat)
        if (found is None or not self._window_ok() or self.ui_empty
                or chat not in self._open_windows):
            return  # an empty UI tree: the listener reads nothing
        chat_obj, callback = found
        for msg in self._take_new(chat):
            callback(msg, chat_obj)

    def _message(self, chat: str, item: _Item) -> BaseMessage:
        cls = _CLASSES.get((item.attr, item.type)) or _CLASSES[(item.attr, "")]
        return cls(_Control(item.content, item.id, item.sender, item.time),
                   _ChatBox(self, chat))

    def _messages(self, chat: str) -> list[BaseMessage]:
        self._check_window()
        if self.ui_empty:
            return []
        state = self._chats.get(chat)
        return [self._message(chat, i) for i in state.items] if state else []

    def _take_new(self, chat: str) -> list[BaseMessage]:
        state = self._chats[chat]
        new, state.unread = state.unread, []
        return [self._message(chat, i) for i in new]

    def _info(self, chat: str) -> dict:
        state = self._chats.get(chat)
        return {"chat_type": state.kind if state else "friend", "chat_name": chat}

    def _next_new(self, client: WeChat) -> dict:
        self._check_window()
        for name, state in self._chats.items():
            if name in client.listen:
                continue
            if name in self._redeliver_on_open and state.unread:
                self._redeliver_on_open.discard(name)
                self.redraw(name)
                state.unread = list(state.items)
            if state.unread:
                self._current = name
                return {"chat_name": name, "chat_type": state.kind,
                        "msg": self._take_new(name)}
        return {}

    def _send(self, msg: str, who: str, at) -> WxResponse:
        self._check_window()
        self.send_calls += 1
        if who not in self._chats:
            return WxResponse.failure(f"找不到聊天对象 {who}")
        if self._fail:
            return WxResponse.failure(self._fail.pop(0))
        self.sent.append({"who": who, "msg": msg, "at": at})
        text = msg
        if at:
            names = [at] if isinstance(at, str) else list(at)
            text = "".join(f"@{n}\u2005" for n in names) + msg
        self._append(who, "self", text)  # the echo: our own message shows in the window
        return WxResponse.success("success")

    def _close(self, chat: str) -> None:
        self._open_windows.discard(chat)

    def _accept(self, element: NewFriendElement, remark, tags, permission) -> None:
        self._check_window()
        for r in self._friend_requests:
            if r.name == element.name and not r.accepted:
                r.accepted, r.remark, r.tags = True, remark, list(tags or [])
                self._chats.setdefault(remark or r.name, _ChatState("friend"))
