"""The CLI's message catalogue: Chinese first, English when the locale asks, one place."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from alpha01.clitext import MESSAGES, language

from .test_cli import alpha01

ROOT = Path(__file__).resolve().parents[2] / "alpha01"
CLI_MODULES = ["cli.py", "cli_customers.py", "cli_kb.py", "cli_key.py", "cli_wecom.py", "knowledge/commands.py",
               "llm/commands.py", "cli_sync.py", "jobs/commands.py"]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_with_the_same_fields():
    for key, (zh, en) in MESSAGES.items():
        assert zh.strip() and en.strip(), key
        assert _fields(zh) == _fields(en), key


def test_the_language_follows_the_locale():
    assert language({}) == "zh"
    assert language({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert language({"LANG": "en_US.UTF-8"}) == "en"
    assert language({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert language({"LANG": "en_US.UTF-8", "ALPHA01_LANG": "zh"}) == "zh"


def test_help_is_chinese_by_default_and_english_when_asked(tmp_path):
    zh = alpha01("kb", "--help", home=tmp_path / "h", env={"LANG": "zh_CN.UTF-8",
                                                           "LC_ALL": "", "ALPHA01_LANG": ""})
    assert zh.returncode == 0 and MESSAGES["kb.help"][0] in zh.stdout and "用法" in zh.stdout
    en = alpha01("kb", "--help", home=tmp_path / "h", env={"LANG": "en_US.UTF-8",
                                                           "LC_ALL": "", "ALPHA01_LANG": ""})
    assert MESSAGES["kb.help"][1] in en.stdout and "Usage:" in en.stdout
    err = alpha01("kb", "nope", home=tmp_path / "h", env={"LANG": "zh_CN.UTF-8",
                                                          "LC_ALL": "", "ALPHA01_LANG": ""})
    assert err.returncode == 2 and "错误" in err.stderr


def _words(node: ast.AST) -> str:
    """The literal text of a string or f-string (not its placeholders), if it has words."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts = [node.value]
    elif isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
    else:
        return ""
    text = "".join(parts)
    return text if any(ch.isalpha() for ch in text) else ""


def test_no_command_carries_its_own_text():
    """Help texts and echoed messages come from the catalogue, not from literals."""
    found = []
    for name in CLI_MODULES:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "help" and _words(node.value):
                found.append(f"{name}:{node.value.lineno} help={_words(node.value)[:30]}")
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                    node.func, "id", "")) in ("echo", "ClickException", "UsageError",
                                              "BadParameter", "InputError", "SyncError")
                    and node.args and _words(node.args[0])):
                found.append(f"{name}:{node.lineno} {_words(node.args[0])[:30]}")
            if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "attr", "") in
                    ("command", "group") for d in node.decorator_list):
                found.append(f"{name}:{node.lineno} docstring as help")
    assert not found, found


def test_doctor_details_come_from_the_catalogue():
    """What doctor tells the owner about each check is in the owner's language: no detail is a
    worded literal of doctor.py's own."""
    tree = ast.parse((ROOT / "doctor.py").read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_check":
            details = [a for a in node.args[2:3]]
            for arg in details + [n for d in details for n in ast.walk(d)
                                  if isinstance(n, ast.IfExp)]:
                parts = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
                found += [f"doctor.py:{p.lineno} {_words(p)[:30]}" for p in parts if _words(p)]
    assert not found, found
