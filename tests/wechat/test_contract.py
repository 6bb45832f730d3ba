"""FakeWeChat must keep the real libraries' names, signatures, return types and message attributes.

The references are the Windows wheels pinned in pyproject.toml ([tool.alpha01] wechat-reference)
that scripts/setup downloads into $ALPHA01_WHEELS (default ~/.cache/alpha01/wheels). They are
read from the zip, never installed or imported (both need Windows):
- gcwxauto (WeChat 3.9) ships its Python source: read with `ast`.
- wxauto4 (WeChat 4.x) ships compiled modules with `.pyi` stubs: signatures and return types come
  from the stubs; methods the stubs leave out (the listener) are pinned to the compiled module's
  qualified names and docstrings.
A missing wheel FAILS these tests (run scripts/setup): a contract that cannot be checked is not
a passing contract.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
import tomllib
import warnings
import zipfile
from pathlib import Path

import pytest

from alpha01.channels.wechat import fake_wx
from alpha01.channels.wechat.fake_wx import FakeWeChat

ROOT = Path(__file__).resolve().parents[2]

# (fake class, real file, real class, methods the adapter or the tests rely on)
CONTRACT = [
    ("WeChat", "wx.py", "WeChat", ["__init__", "IsOnline", "GetMyInfo", "GetSession",
                                   "ChatWith", "AddListenChat", "RemoveListenChat",
                                   "StopListening", "StartListening", "GetNextNewMessage",
                                   "GetNewFriends", "GetAllMessage"]),
    ("Chat", "wx.py", "Chat", ["__init__", "ChatInfo", "SendMsg", "GetAllMessage",
                               "GetNewMessage", "Show", "Close"]),
    ("NewFriendElement", "ui/component.py", "NewFriendElement", ["__init__", "accept",
                                                                 "delete"]),
    ("WxResponse", "param.py", "WxResponse", ["__init__", "success", "failure", "error"]),
    ("BaseMessage", "msgs/base.py", "BaseMessage", ["__init__"]),
    ("TimeMessage", "msgs/mattr.py", "TimeMessage", ["__init__"]),
    ("FriendMessage", "msgs/mattr.py", "FriendMessage", ["__init__"]),
    ("SystemMessage", "msgs/mattr.py", "SystemMessage", ["__init__"]),
    ("FriendTextMessage", "msgs/friend.py", "FriendTextMessage", ["__init__"]),
    ("SelfTextMessage", "msgs/self.py", "SelfTextMessage", ["__init__"]),
]
ATTRS = [("BaseMessage", "msgs/base.py", ["type", "attr"]),
         ("TextMessage", "msgs/type.py", ["type"]), ("ImageMessage", "msgs/type.py", ["type"]),
         ("TimeMessage", "msgs/mattr.py", ["attr"]), ("SelfMessage", "msgs/mattr.py", ["attr"]),
         ("FriendMessage", "msgs/mattr.py", ["attr"]),
         ("SystemMessage", "msgs/mattr.py", ["attr"])]

# wxauto4: (fake class, stub file, real class, methods) checked against the .pyi stubs
CONTRACT4 = [
    ("WeChat4", "wx.pyi", "WeChat", ["__init__", "IsOnline", "GetMyInfo", "GetSession",
                                     "ChatWith", "SendMsg", "GetAllMessage"]),
    ("Chat", "wx.pyi", "Chat", ["__init__", "ChatInfo", "SendMsg", "GetAllMessage", "Show",
                                "Close"]),
    ("WxResponse", "param.py", "WxResponse", ["__init__", "success", "failure", "error"]),
]
# wxauto4 methods the stubs omit: the compiled wx module defines them; their parameters are the
# names its docstring lists (the docstring's first line identifies it)
LISTENER4 = {"AddListenChat": "添加监听聊天", "RemoveListenChat": "移除监听聊天",
             "StopListening": "停止监听"}
# what the adapter asks of the main window; a method wxauto4 lacks must be missing in the fake
ADAPTER_USES = ["IsOnline", "GetMyInfo", "GetSession", "AddListenChat", "StopListening",
                "StartListening", "GetNextNewMessage", "GetNewFriends", "ChatWith"]
# what the channel reads from a message object
MESSAGE_READS = ["attr", "type", "content", "id", "sender"]
# the message classes the fake hands out, by the real module that defines them
MESSAGE_CLASSES4 = {"FriendTextMessage": "msgs/friend", "FriendImageMessage": "msgs/friend",
                    "SelfTextMessage": "msgs/self", "TimeMessage": "msgs/mtype",
                    "SystemMessage": "msgs/mattr"}


def _reference(name: str) -> Path:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pin = next(p for p in pins["tool"]["alpha01"]["wechat-reference"] if p.startswith(name))
    version = pin.split("==")[1]
    folder = Path(os.environ.get("ALPHA01_WHEELS") or Path.home() / ".cache/alpha01/wheels")
    found = sorted(folder.glob(f"{name}-{version}-*.whl"))
    if not found:
        pytest.fail(f"the {pin} wheel is not in {folder}: run scripts/setup (it downloads the "
                    "pinned WeChat libraries the fakes are checked against)")
    return found[0]


class Wheel:
    def __init__(self, path: Path, package: str):
        self.zip = zipfile.ZipFile(path)
        self.package = package
        self.names = self.zip.namelist()

    def text(self, rel: str) -> str:
        return self.zip.read(f"{self.package}/{rel}").decode("utf-8")

    def binary(self, stem: str) -> bytes:
        [name] = [n for n in self.names if n.startswith(f"{self.package}/{stem}.")
                  and n.endswith(".pyd")]
        return self.zip.read(name)

    def classes(self, rel: str) -> dict[str, ast.ClassDef]:
        with warnings.catch_warnings():  # the library's own regexes have invalid escapes
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(self.text(rel))
        return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


@pytest.fixture(scope="module")
def gcwxauto() -> Wheel:
    return Wheel(_reference("gcwxauto"), "wxauto")


@pytest.fixture(scope="module")
def wxauto4() -> Wheel:
    return Wheel(_reference("wxauto4"), "wxauto4")


REQUIRED = "<required>"
ANY = "<expression>"


def _default(node: ast.expr | None) -> object:
    if node is None:
        return REQUIRED
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ANY  # not a literal: only its presence is compared


def _real_params(fn: ast.FunctionDef) -> list[tuple[str, object]]:
    """(name, default) per parameter; REQUIRED when it has none."""
    args = fn.args.posonlyargs + fn.args.args
    defaults = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
    out = [(a.arg, _default(d)) for a, d in zip(args, defaults, strict=True)]
    out += [(a.arg, _default(d)) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults,
                                                   strict=True)]
    if fn.args.vararg:
        out.append(("*" + fn.args.vararg.arg, None))
    if fn.args.kwarg:
        out.append(("**" + fn.args.kwarg.arg, None))
    return out


def _fake_params(fn) -> list[tuple[str, object]]:
    out = []
    for p in inspect.signature(fn).parameters.values():
        name = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            out.append((name, None))
        else:
            out.append((name, REQUIRED if p.default is p.empty else p.default))
    return out


def _same(fake: list[tuple[str, object]], real: list[tuple[str, object]]) -> bool:
    return len(fake) == len(real) and all(
        fn == rn and (rd == fd or (rd == ANY and fd != REQUIRED))
        for (fn, fd), (rn, rd) in zip(fake, real, strict=True))


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}


def _compare(fake_cls: type, fake_name: str, real_methods: dict[str, ast.FunctionDef],
             methods: list[str], library: str) -> None:
    for method in methods:
        assert method in real_methods, f"{library} {fake_name}.{method} no longer exists"
        fake_fn = getattr(fake_cls, method)
        if isinstance(inspect.getattr_static(fake_cls, method), classmethod):
            real_p = _real_params(real_methods[method])[1:]
        else:
            real_p = _real_params(real_methods[method])
            real_p = real_p[1:] if real_p and real_p[0][0] == "self" else real_p
        fake_p = _fake_params(fake_fn)
        if not isinstance(inspect.getattr_static(fake_cls, method), classmethod | staticmethod):
            fake_p = fake_p[1:]
        assert _same(fake_p, real_p), f"{fake_name}.{method}: fake {fake_p} != {library} {real_p}"


# -- gcwxauto (WeChat 3.9) ---------------------------------------------------------------------

@pytest.mark.parametrize("fake_name,real_file,real_name,methods", CONTRACT,
                         ids=[c[0] for c in CONTRACT])
def test_fake_signatures_match_gcwxauto(gcwxauto, fake_name, real_file, real_name, methods):
    classes = gcwxauto.classes(real_file)
    assert real_name in classes, f"{real_name} is gone from gcwxauto's {real_file}"
    real_methods = _methods(classes[real_name])
    if real_name == "WeChat":  # inherited from Chat in the real library
        for name, fn in _methods(gcwxauto.classes("wx.py")["Chat"]).items():
            real_methods.setdefault(name, fn)
    _compare(getattr(fake_wx, fake_name), fake_name, real_methods, methods, "gcwxauto")


@pytest.mark.parametrize("fake_name,real_file,attrs", ATTRS, ids=[a[0] for a in ATTRS])
def test_fake_message_kinds_match_gcwxauto(gcwxauto, fake_name, real_file, attrs):
    real = gcwxauto.classes(real_file)[fake_name]
    values = {}
    for node in real.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
            values[target.id] = node.value.value
    for attr in attrs:
        assert getattr(getattr(fake_wx, fake_name), attr) == values[attr], attr


def test_gcwxauto_messages_carry_what_the_channel_reads(gcwxauto):
    init = _methods(gcwxauto.classes("msgs/base.py")["BaseMessage"])["__init__"]
    assigned = {t.attr for n in ast.walk(init) if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Attribute)}
    for attr in MESSAGE_READS:
        assert attr in assigned or attr in ("type", "attr"), attr


# -- wxauto4 (WeChat 4.x) ----------------------------------------------------------------------

@pytest.mark.parametrize("fake_name,real_file,real_name,methods", CONTRACT4,
                         ids=[c[0] for c in CONTRACT4])
def test_fake_signatures_match_wxauto4_stubs(wxauto4, fake_name, real_file, real_name, methods):
    classes = wxauto4.classes(real_file)
    assert real_name in classes, f"{real_name} is gone from wxauto4's {real_file}"
    real_methods = _methods(classes[real_name])
    if real_name == "WeChat":
        for name, fn in _methods(classes["Chat"]).items():
            real_methods.setdefault(name, fn)
    _compare(getattr(fake_wx, fake_name), fake_name, real_methods, methods, "wxauto4")


def _qualnames(wheel: Wheel, stem: str) -> set[str]:
    """The `Class.method` names a compiled module defines (its function objects' qualnames)."""
    return {m.decode() for m in re.findall(rb"u([A-Z]\w*\.\w+)\x00", wheel.binary(stem))} | {
        m.decode() for m in re.findall(rb"u([A-Z][A-Za-z]*\.[A-Za-z_]+)(?=[^\w.])",
                                       wheel.binary(stem))}


def _doc_args(binary: bytes, summary: str) -> list[str]:
    at = binary.find(summary.encode())
    assert at >= 0, f"wxauto4 no longer documents '{summary}'"
    block = binary[at:at + 2000].split(b"Args:", 1)[1]
    names = []
    for line in block.split(b"\n")[1:]:
        got = re.match(rb"\s+(\w+) \(", line)
        if not got:
            break
        names.append(got.group(1).decode())
    return names


def test_wxauto4_listener_methods_exist_with_the_fakes_parameters(wxauto4):
    qual = _qualnames(wxauto4, "wx")
    binary = wxauto4.binary("wx")
    for method, summary in LISTENER4.items():
        assert f"WeChat.{method}" in qual, f"wxauto4 WeChat.{method} no longer exists"
        real = _doc_args(binary, summary)
        fake = [p for p, _ in _fake_params(getattr(fake_wx.WeChat4, method))][1:]
        assert fake == real, f"WeChat4.{method}: fake {fake} != wxauto4 {real}"
    assert "WeChat.StartListening" in qual


def test_the_wx4_fake_has_exactly_the_main_window_methods_wxauto4_has(wxauto4):
    stub = _methods(wxauto4.classes("wx.pyi")["WeChat"]) | _methods(
        wxauto4.classes("wx.pyi")["Chat"])
    real = set(stub) | {q.split(".", 1)[1] for q in _qualnames(wxauto4, "wx")
                        if q.startswith(("WeChat.", "Chat."))}
    for method in ADAPTER_USES:
        assert hasattr(fake_wx.WeChat4, method) == (method in real), (
            f"wxauto4 {'has' if method in real else 'lacks'} WeChat.{method}; the fake must too")


def test_wxauto4_listens_to_one_chat_and_the_fake_refuses_a_second(wxauto4):
    refusal = "当前实例只允许监听一个聊天"
    assert refusal.encode() in wxauto4.binary("wx"), "wxauto4 changed its one-chat listener"
    world = FakeWeChat(generation="wx4")
    world.add_chat("小王")
    world.add_chat("小李")
    wx = world.module.WeChat()
    assert wx.AddListenChat(nickname="小王", callback=lambda m, c: None)
    second = wx.AddListenChat(nickname="小李", callback=lambda m, c: None)
    assert not second and second["message"] == refusal


def test_wxauto4_messages_and_settings_carry_what_the_adapter_uses(wxauto4):
    base = wxauto4.classes("msgs/base.pyi")["BaseMessage"]
    declared = {n.target.id for n in base.body if isinstance(n, ast.AnnAssign)}
    for attr in MESSAGE_READS:
        assert attr in declared, f"wxauto4 BaseMessage no longer has {attr}"
    for cls, stem in MESSAGE_CLASSES4.items():
        assert f"{cls}.__init__" in _qualnames(wxauto4, stem), f"wxauto4 lost {cls}"
        assert hasattr(fake_wx, cls)
    param = wxauto4.classes("param.py")["WxParam"]
    fields = {n.target.id for n in param.body if isinstance(n, ast.AnnAssign)}
    for name in vars(fake_wx.WxParam):
        if not name.startswith("_"):
            assert name in fields, f"wxauto4 WxParam has no {name}"


def _returns(wheel: Wheel, rel: str, cls: str, method: str) -> str:
    fn = _methods(wheel.classes(rel)[cls])[method]
    return ast.unparse(fn.returns)


def test_the_wx4_fake_returns_the_types_the_stubs_declare(wxauto4):
    world = FakeWeChat(generation="wx4")
    world.add_chat("小王")
    world.customer_says("小王", "你好")
    wx = world.module.WeChat()
    chat = wx.AddListenChat(nickname="小王", callback=lambda m, c: None)
    checks = [("WeChat", "IsOnline", wx.IsOnline(), bool),
              ("WeChat", "GetMyInfo", wx.GetMyInfo(), dict),
              ("WeChat", "GetSession", wx.GetSession(), list),
              ("Chat", "ChatInfo", chat.ChatInfo(), dict),
              ("Chat", "SendMsg", chat.SendMsg(msg="好的"), fake_wx.WxResponse),
              ("Chat", "GetAllMessage", chat.GetAllMessage(), list)]
    for cls, method, value, kind in checks:
        declared = _returns(wxauto4, "wx.pyi", cls, method)
        assert declared.split("[")[0] == {bool: "bool", dict: "dict", list: "list",
                                          fake_wx.WxResponse: "WxResponse"}[kind], declared
        assert isinstance(value, kind), f"{cls}.{method} returned {type(value)}"
    assert all(type(v) is str for v in chat.ChatInfo().values())


def test_the_wx4_adapter_turns_wxauto4_telemetry_off():
    from alpha01.channels.wechat.adapters import Wx4Adapter

    world = FakeWeChat(generation="wx4")
    adapter = Wx4Adapter(world.module)
    assert world.module.WxParam.TELEMETRY_ENABLED is True
    adapter.connect()
    assert world.module.WxParam.TELEMETRY_ENABLED is False


def test_the_core_imports_without_wxauto():
    code = ("import sys, alpha01.channels.wechat, alpha01.channels.wechat.ocr, alpha01.engine, "
            "alpha01.alerts; bad = {'wxauto', 'wxauto4', 'rapidocr', 'onnxruntime', 'cv2',"
            "} & set(sys.modules); assert not bad, bad")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
