"""The suite's deadlines are real: a test over its pytest.mark.timeout fails (pytest-timeout is
installed and active), so a hung server test cannot hold CI until its cap."""

from __future__ import annotations

import subprocess
import sys


def test_a_test_over_its_timeout_mark_fails(tmp_path):
    (tmp_path / "test_hang.py").write_text(
        "import time, pytest\n\n"
        "@pytest.mark.timeout(1)\n"
        "def test_hangs():\n"
        "    time.sleep(30)\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "test_hang.py")], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 1, out.stdout[-2000:]
    assert "Timeout" in out.stdout
