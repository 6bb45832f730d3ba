"""The import contracts (pyproject.toml [tool.importlinter]) catch what they are meant to.

Each test copies the packages and the contracts to a temporary directory, writes one module
that breaks a rule, and runs the real `lint-imports` on the copy: it must fail and name the
import. The untouched copy passes, so the failure is the planted module's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("alpha01", "sync_server"):
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess:
    assert LINT.exists(), f"import-linter (a dev dependency) is not installed beside {sys.executable}"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_project_as_it_is_keeps_every_contract(tmp_path):
    r = _lint(_copy(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(("path", "code", "expected"), [
    # a channel reading the database itself: channels and storage are independent siblings
    ("alpha01/channels/stray.py", "from ..storage.db import Database\n",
     "alpha01.channels is not allowed to import alpha01.storage"),
    # the sync client reaching into a channel
    ("alpha01/sync/stray.py", "from ..channels.web.channel import chat_url\n",
     "alpha01.sync is not allowed to import alpha01.channels"),
    # a lower layer importing a higher one
    ("alpha01/pipeline/stray.py", "from ..engine import Engine\n",
     "alpha01.pipeline is not allowed to import alpha01.engine"),
    # a heavy library in the core, even imported lazily inside a function
    ("alpha01/pipeline/stray.py", "def f():\n    import numpy\n    return numpy\n",
     "alpha01.pipeline is not allowed to import numpy"),
    ("alpha01/storage/stray.py", "def f():\n    import lancedb\n    return lancedb\n",
     "alpha01.storage is not allowed to import lancedb"),
    # the sync server importing the shop's engine
    ("sync_server/stray.py", "from alpha01.engine import Engine\n",
     "sync_server is not allowed to import alpha01.engine"),
])
def test_a_planted_import_breaks_its_contract(tmp_path, path, code, expected):
    root = _copy(tmp_path)
    (root / path).write_text(f'"""A deliberate violation."""\n\n{code}', encoding="utf-8")
    r = _lint(root)
    assert r.returncode != 0, r.stdout
    assert expected in r.stdout, r.stdout
    assert "stray" in r.stdout  # the report names the planted module
