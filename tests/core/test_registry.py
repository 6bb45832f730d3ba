"""Backends by name: built-ins and plugins come through the same door."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from alpha01 import registry
from alpha01.errors import BackendNotFound

ROOT = Path(__file__).resolve().parents[2]


def test_builtins_equal_the_entry_points_in_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {kind: dict(project["entry-points"].get(f"alpha01.{kind}", {}))
                for kind in registry.KINDS}
    assert declared == registry.BUILTINS


@pytest.mark.parametrize(("kind", "name"),
                         [(k, n) for k in registry.KINDS for n in registry.BUILTINS[k]])
def test_every_builtin_target_exists(kind, name):
    module, _, attr = registry.target(kind, name).partition(":")
    source = ROOT / (module.replace(".", "/") + ".py")
    if not source.exists():
        source = ROOT / module.replace(".", "/") / "__init__.py"
    assert f"class {attr}" in source.read_text(encoding="utf-8") or \
        f"def {attr}" in source.read_text(encoding="utf-8")


def test_loading_the_fakes_by_name():
    llm = registry.create("llm", "fake")
    assert llm.complete([{"role": "user", "content": "hi"}]).served_by == "fake"
    assert registry.load("channels", "fake").__name__ == "FakeChannel"


def test_an_unknown_name_lists_what_is_known():
    with pytest.raises(BackendNotFound, match="known: .*fake"):
        registry.load("llm", "gpt-99")


def test_a_plugin_registers_through_an_entry_point(monkeypatch):
    monkeypatch.setattr(registry, "_plugins",
                        lambda kind: {"echo": "alpha01.llm.fake:FakeLLM"} if kind == "llm" else {})
    assert "echo" in registry.names("llm")
    assert registry.load("llm", "echo").__name__ == "FakeLLM"
    # a plugin cannot take over a built-in's name
    monkeypatch.setattr(registry, "_plugins",
                        lambda kind: {"fake": "alpha01.channels.fake:FakeChannel"})
    assert registry.load("llm", "fake").__name__ == "FakeLLM"
