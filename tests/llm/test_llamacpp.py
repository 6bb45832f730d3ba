"""LlamaCppBackend on real small GGUF models shipped on PyPI (pip extra `testmodels`)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from alpha01.config import LLMSettings, ShopSettings
from alpha01.domain import Passage
from alpha01.errors import LLMTimeout, LLMUnavailable
from alpha01.llm import models
from alpha01.llm.llamacpp import LlamaCppBackend, default_threads
from alpha01.pipeline.prompt import build_messages, make_canary


def test_importing_the_backends_loads_no_native_library():
    code = ("import sys, alpha01.llm.llamacpp, alpha01.llm.zhipu, alpha01.llm.router, "
            "alpha01.llm.models, alpha01.llm.commands, alpha01.pipeline.guard; "
            "bad = [m for m in ('llama_cpp', 'zhipuai', 'httpx') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_threads_default_to_cores_minus_one():
    assert default_threads() >= 1
    assert LlamaCppBackend().n_threads == default_threads()
    assert LlamaCppBackend(LLMSettings(n_threads=3)).n_threads == 3


def test_a_missing_model_is_unavailable_not_a_crash(tmp_path):
    b = LlamaCppBackend(model_path=tmp_path / "nope.gguf")
    assert b.available() is False and "does not exist" in b.unavailable_reason
    with pytest.raises(LLMUnavailable):
        b.complete([{"role": "user", "content": "hi"}])


def test_a_corrupt_model_is_unavailable(tmp_path):
    pytest.importorskip("llama_cpp")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(LLMUnavailable, match="cannot load"):
        LlamaCppBackend(model_path=bad).complete([{"role": "user", "content": "hi"}])


def test_native_log_levels_follow_the_compiled_ggml_header(caplog):
    """Load chatter (INFO) stays out of the owner's log; warnings and errors reach it. The
    numbering is read from the ggml.h that the installed wheel was compiled with."""
    import logging
    import re
    from pathlib import Path

    llama_cpp = pytest.importorskip("llama_cpp")
    from alpha01.llm import llamacpp

    root = Path(llama_cpp.__file__).resolve().parent.parent
    header = next(iter(root.glob("include/ggml.h")), None) or next(
        iter(root.glob("llama_cpp/**/ggml.h")), None)
    if header is None:
        pytest.skip("the wheel ships no ggml.h")
    enum = re.search(r"enum ggml_log_level \{(.*?)\}", header.read_text(errors="replace"), re.S)
    levels = {m[0]: int(m[1]) for m in re.findall(r"GGML_LOG_LEVEL_(\w+)\s*=\s*(\d+)",
                                                    enum[1])}
    assert llamacpp._NATIVE_LEVELS[levels["WARN"]] == logging.WARNING
    assert llamacpp._NATIVE_LEVELS[levels["ERROR"]] == logging.ERROR
    assert llamacpp._NATIVE_LEVELS[levels["INFO"]] < logging.INFO
    assert llamacpp._NATIVE_LEVELS[levels["DEBUG"]] < logging.INFO

    llamacpp._route_native_logs(llama_cpp)
    with caplog.at_level(logging.DEBUG, logger=llamacpp.log.name):
        llamacpp._NATIVE_LOG(levels["INFO"], b"load chatter\n", None)
        llamacpp._NATIVE_LOG(levels["WARN"], b"a warning", None)
        llamacpp._NATIVE_LOG(levels["CONT"], b" continued\n", None)
    got = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert got == [(logging.DEBUG, "llama.cpp: load chatter"),
                   (logging.WARNING, "llama.cpp: a warning"),
                   (logging.WARNING, "llama.cpp:  continued")]


def _small(name: str):
    pytest.importorskip("llama_cpp")
    spec = models.load_catalog().get(name)
    try:
        files = models.part_files(spec)
    except LLMUnavailable as exc:
        pytest.skip(str(exc))
    return spec, files


@pytest.fixture(scope="module")
def smol():
    _, files = _small("smollm2-135m-instruct-q4_1")
    b = LlamaCppBackend(model_path=files[0], n_ctx=2048)
    b.load()
    yield b
    b.close()


SHOP = ShopSettings(name="Green Fruit", persona="You are the shop's friendly assistant. " * 20)
PASSAGES = [Passage(text="We open 09:00-21:30 on weekdays.", source="intro.md", score=1.0)]


def _messages(question: str):
    return build_messages(shop=SHOP, passages=PASSAGES, history=[], question=question,
                          canary=make_canary(SHOP.name))


@pytest.mark.slow
def test_real_completion_with_the_template_from_the_gguf(smol):
    assert "tokenizer.chat_template" in smol._llm.metadata
    c = smol.complete(_messages("When do you close?"), max_tokens=24, temperature=0.0,
                      deadline=time.monotonic() + 60)
    assert c.text and c.served_by == "llamacpp" and c.meta["tier"] == "local"
    assert 0 < c.tokens_out <= 24 and c.tokens_in > 50 and c.latency_ms > 0
    assert "<|im_end|>" not in c.text and "<|im_start|>" not in c.text


@pytest.mark.slow
def test_streaming_gives_pieces(smol):
    pieces = list(smol.stream(_messages("Say hello."), max_tokens=12, temperature=0.0,
                              deadline=time.monotonic() + 60))
    assert len(pieces) > 1 and "".join(pieces).strip()


@pytest.mark.slow
def test_the_token_cap_holds(smol):
    c = smol.complete(_messages("Write a very long story about fruit."), max_tokens=5,
                      temperature=0.0, deadline=time.monotonic() + 60)
    assert c.tokens_out <= 5 and c.meta["finish_reason"] == "length"


@pytest.mark.slow
def test_the_deadline_is_checked_between_tokens(smol):
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        smol.complete(_messages("Write a very long story about fruit."), max_tokens=2000,
                      temperature=0.0, deadline=started + 0.3)
    assert time.monotonic() - started < 2.0
    # the backend is usable again afterwards
    assert smol.complete(_messages("Hi"), max_tokens=4, deadline=time.monotonic() + 30).text


@pytest.mark.slow
def test_the_stable_prefix_is_reused_between_replies(smol):
    smol._llm.reset()  # cold: nothing cached
    cold = smol.complete(_messages("When do you close?"), max_tokens=4, temperature=0.0)
    warm = smol.complete(_messages("Where are you?"), max_tokens=4, temperature=0.0)
    assert warm.meta["ttft_ms"] < cold.meta["ttft_ms"] * 0.6, (cold.meta, warm.meta)


@pytest.mark.slow
def test_a_model_without_a_chat_template_falls_back_to_chatml(tmp_path):
    spec, files = _small("gemma-3-270m-q4_k_m")
    path = models.assemble(spec, tmp_path, parts=files)
    b = LlamaCppBackend(model_path=path, n_ctx=1024)
    try:
        b.load()
        assert "tokenizer.chat_template" not in b._llm.metadata
        assert b._llm.chat_format == "chatml"
        c = b.complete([{"role": "user", "content": "Hello"}], max_tokens=4, temperature=0.0,
                       deadline=time.monotonic() + 60)
        assert c.served_by == "llamacpp" and c.tokens_out <= 4
    finally:
        b.close()


@pytest.mark.slow
def test_the_prompt_gets_every_core_only_while_other_programs_idle(smol, monkeypatch):
    import llama_cpp

    from alpha01.llm import llamacpp
    from alpha01.llm.cpuload import CpuMeter

    others = [0.0]
    clock = [0.0]

    def busy():  # other programs use others[0] cores; each look moves the clock on 1 s
        clock[0] += 1.0
        return clock[0] * others[0]

    monkeypatch.setattr(llamacpp, "usable_cores", lambda: 4)
    b = LlamaCppBackend(model_path=smol._model_path, n_threads=1, n_ctx=1024)
    assert b.adaptive_batch
    b._meter = CpuMeter(busy=busy, own=lambda: 0.0, clock=lambda: clock[0],
                        sleep=lambda s: None)
    try:
        quiet = b.complete(_messages("Hi"), max_tokens=2, temperature=0.0)
        assert quiet.meta["prompt_threads"] == 4
        assert llama_cpp.llama_n_threads_batch(b._llm._ctx.ctx) == 4
        assert llama_cpp.llama_n_threads(b._llm._ctx.ctx) == 4  # the reply too
        others[0] = 2.6  # another program keeps most of 3 cores busy
        busy_box = b.complete(_messages("Hello"), max_tokens=2, temperature=0.0)
        assert busy_box.meta["prompt_threads"] == 1
        assert llama_cpp.llama_n_threads_batch(b._llm._ctx.ctx) == 1
        assert llama_cpp.llama_n_threads(b._llm._ctx.ctx) == 1
    finally:
        b.close()

    fixed = LlamaCppBackend(LLMSettings(n_threads=1, n_threads_batch=2))
    assert not fixed.adaptive_batch and fixed.n_threads_batch == 2
