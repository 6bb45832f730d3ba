"""Shared fixtures: every test gets its own home directory, never the developer's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ALPHA01_HOME", str(home))
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    # Secrets go to a key file in the test's home, never into the developer's keyring.
    monkeypatch.setenv("ALPHA01_NO_KEYRING", "1")
    return home
