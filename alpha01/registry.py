"""Backends by name: channels, LLM backends, embedders.

Built-ins register through the same door a third-party package uses: an entry point in the
groups `alpha01.channels`, `alpha01.llm`, `alpha01.embedders` (see pyproject.toml). `BUILTINS`
repeats them explicitly because a frozen executable has no package metadata to read entry
points from. Targets are "module:attribute" strings, imported only when asked for, so
registering a backend never imports its heavy library.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from .errors import BackendNotFound

KINDS = ("channels", "llm", "embedders")

BUILTINS: dict[str, dict[str, str]] = {
    "channels": {
        "fake": "alpha01.channels.fake:FakeChannel",
        "console": "alpha01.channels.console:ConsoleChannel",
        "sim": "alpha01.channels.sim:SimChannel",
        "wechat": "alpha01.channels.wechat.channel:WeChatChannel",
        "web": "alpha01.channels.web.channel:WebChannel",
        "wecom": "alpha01.channels.wecom.channel:WeComChannel",
    },
    "llm": {
        "fake": "alpha01.llm.fake:FakeLLM",
        "none": "alpha01.llm.fake:NullLLM",
        "llamacpp": "alpha01.llm.llamacpp:LlamaCppBackend",
        "zhipu": "alpha01.llm.zhipu:ZhipuBackend",
        "router": "alpha01.llm.router:LLMRouter",
    },
    "embedders": {
        "hash": "alpha01.knowledge.embed:HashEmbedder",
        "usem3": "alpha01.knowledge.embed:Usem3Embedder",
    },
}


@cache
def _plugins(kind: str) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        for ep in entry_points(group=f"alpha01.{kind}"):
            found[ep.name] = ep.value
    except Exception:  # broken metadata of some other package must not stop the app
        pass
    return found


def names(kind: str) -> list[str]:
    """Every registered name of a kind, built-ins and plugins."""
    _check_kind(kind)
    return sorted(set(BUILTINS[kind]) | set(_plugins(kind)))


def target(kind: str, name: str) -> str:
    _check_kind(kind)
    # A built-in wins over a plugin of the same name: a package cannot hijack "fake".
    spec = BUILTINS[kind].get(name) or _plugins(kind).get(name)
    if spec is None:
        raise BackendNotFound(
            f"no {kind[:-1] if kind.endswith('s') else kind} backend named {name!r}; "
            f"known: {', '.join(names(kind))}"
        )
    return spec


def load(kind: str, name: str) -> Any:
    """Import and return the class (or factory) registered as `name`."""
    spec = target(kind, name)
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendNotFound(
            f"{kind} backend {name!r} cannot be loaded: {exc}. Is its extra installed?"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise BackendNotFound(f"{spec} does not exist") from exc


def create(kind: str, name: str, /, **kwargs: Any) -> Any:
    return load(kind, name)(**kwargs)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown backend kind {kind!r}")
