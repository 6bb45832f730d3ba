"""Fixtures of the answering tests: a fake Zhipu server on 127.0.0.1."""

from __future__ import annotations

import pytest

from .fake_zhipu import FakeZhipu


@pytest.fixture
def zhipu_server():
    with FakeZhipu() as server:
        yield server
