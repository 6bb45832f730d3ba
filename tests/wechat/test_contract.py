"""FakeWeChat must keep the real library's names and signatures.

The real gcwxauto is installed with --no-deps into a temporary folder and read with `ast`
(never imported: it needs Windows). wxauto4 is checked the same way when pip can get it.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from alpha01.channels.wechat import fake_wx

# (fake class, real file, real class, methods the adapter or the tests rely on)
CONTRACT = [
    ("WeChat", "wx.py", "WeChat", ["__init__", "IsOnline", "GetMyInfo", "GetSession",
                                   "ChatWith", "AddListenChat", "RemoveListenChat",
                                   "StopListening", "StartListening", "GetNextNewMessage",
                                   "GetNewFriends"]),
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


@pytest.fixture(scope="module")
def gcwxauto(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("gcwxauto")
    got = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                          "--target", str(target), "gcwxauto"], capture_output=True, timeout=180)
    if got.returncode != 0:
        pytest.skip(f"gcwxauto not installable here: {got.stderr.decode()[-200:]}")
    return target / "wxauto"


def _classes(path: Path) -> dict[str, ast.ClassDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _real_params(fn: ast.FunctionDef) -> list[tuple[str, bool]]:
    args = fn.args.posonlyargs + fn.args.args
    first_default = len(args) - len(fn.args.defaults)
    out = [(a.arg, i >= first_default) for i, a in enumerate(args)]
    out += [(a.arg, d is not None) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults,
                                                    strict=True)]
    if fn.args.vararg:
        out.append(("*" + fn.args.vararg.arg, True))
    if fn.args.kwarg:
        out.append(("**" + fn.args.kwarg.arg, True))
    return out


def _fake_params(fn) -> list[tuple[str, bool]]:
    out = []
    for p in inspect.signature(fn).parameters.values():
        name = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        out.append((name, p.default is not p.empty or p.kind in (p.VAR_POSITIONAL,
                                                                 p.VAR_KEYWORD)))
    return out


@pytest.mark.parametrize("fake_name,real_file,real_name,methods", CONTRACT,
                         ids=[c[0] for c in CONTRACT])
def test_fake_signatures_match_gcwxauto(gcwxauto, fake_name, real_file, real_name, methods):
    classes = _classes(gcwxauto / real_file)
    assert real_name in classes, f"{real_name} is gone from gcwxauto's {real_file}"
    real = classes[real_name]
    real_methods = {n.name: n for n in real.body if isinstance(n, ast.FunctionDef)}
    # inherited from Chat in the real library
    if real_name == "WeChat":
        chat = _classes(gcwxauto / "wx.py")["Chat"]
        for n in chat.body:
            if isinstance(n, ast.FunctionDef):
                real_methods.setdefault(n.name, n)
    fake_cls = getattr(fake_wx, fake_name)
    for method in methods:
        assert method in real_methods, f"gcwxauto {real_name}.{method} no longer exists"
        fake_fn = getattr(fake_cls, method)
        if isinstance(inspect.getattr_static(fake_cls, method), classmethod):
            real_p = _real_params(real_methods[method])[1:]
        else:
            real_p = _real_params(real_methods[method])
            real_p = real_p[1:] if real_p and real_p[0][0] == "self" else real_p
        fake_p = _fake_params(fake_fn)
        if not isinstance(inspect.getattr_static(fake_cls, method), classmethod | staticmethod):
            fake_p = fake_p[1:]
        assert fake_p == real_p, f"{fake_name}.{method}: fake {fake_p} != real {real_p}"


@pytest.mark.parametrize("fake_name,real_file,attrs", ATTRS, ids=[a[0] for a in ATTRS])
def test_fake_message_kinds_match_gcwxauto(gcwxauto, fake_name, real_file, attrs):
    real = _classes(gcwxauto / real_file)[fake_name]
    values = {}
    for node in real.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
            values[target.id] = node.value.value
    for attr in attrs:
        assert getattr(getattr(fake_wx, fake_name), attr) == values[attr], attr


def test_the_core_imports_without_wxauto():
    code = ("import sys, alpha01.channels.wechat, alpha01.engine; "
            "assert 'wxauto' not in sys.modules and 'wxauto4' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
