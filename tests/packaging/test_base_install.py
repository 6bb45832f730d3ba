"""`pip install .` without extras: a shop with no model, no knowledge base and no UI still
starts, keeps its rules and answers from them.

A fresh virtual environment (no system site-packages) gets only the base dependencies from the
package index, the way a merchant's `pip install alpha01` would; the commands then run from its
own `alpha01` script, out of the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ["numpy", "lancedb", "pyarrow", "llama_cpp", "zhipuai", "textual", "fastapi",
          "uvicorn", "apscheduler", "segno", "pypdf", "rapidocr"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("base")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("alpha01", "sync_server"):
        shutil.copytree(ROOT / package, src / package, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    r = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", str(src)],
                       capture_output=True, text=True, timeout=800)
    assert r.returncode == 0, r.stdout + r.stderr
    return bindir


def _run(bindir: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if home is not None:
        env["ALPHA01_HOME"] = str(home)
    # out of the source tree, so the installed package is the one that runs
    return subprocess.run([str(bindir / "alpha01"), *args], capture_output=True, text=True,
                          env=env, cwd=home.parent if home else bindir, timeout=120)


def test_no_extra_came_with_the_base_install(base_venv):
    code = ("import importlib.util as u, json; "
            f"print(json.dumps([m for m in {EXTRAS!r} if u.find_spec(m)]))")
    r = subprocess.run([str(base_venv / "python"), "-c", code], capture_output=True,
                       text=True, timeout=60, cwd=base_venv)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


def test_version_init_rules_and_a_rule_answer_on_the_base_install(base_venv, tmp_path):
    from alpha01 import __version__

    r = _run(base_venv, "--version")
    assert r.returncode == 0 and __version__ in r.stdout, r.stderr
    home = tmp_path / "shop"
    r = _run(base_venv, "init", "--shop", "街角小店", home=home)
    assert r.returncode == 0, r.stderr
    r = _run(base_venv, "rules", "add", "--pattern", "停车", "--reply",
             "门口可以临时停车，十分钟内免费。", home=home)
    assert r.returncode == 0, r.stderr
    r = _run(base_venv, "rules", "list", "--json", home=home)
    assert r.returncode == 0, r.stderr
    [rule] = [x for x in json.loads(r.stdout) if x["pattern"] == "停车"]
    assert rule["enabled"] and rule["reply"] == "门口可以临时停车，十分钟内免费。"
    r = _run(base_venv, "ask", "--json", "请问附近能停车吗", home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tier"] == "rule" and out["reply"] == "门口可以临时停车，十分钟内免费。"
    assert out["handoff"] is False
    # and it says nothing about a missing library on the way
    assert "numpy" not in r.stderr and "Traceback" not in r.stderr
