"""Offline means offline: the headless demo opens no network connection at all.

Two proofs together: the demo runs inside a network namespace with no network (so anything
that needed the network would fail), and a Python audit hook records every socket connect and
DNS lookup the process attempts (so an attempt that failed quietly is still caught).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

PROBE = r"""
import json, socket, sys
attempts = []

def hook(event, args):
    if event == "socket.connect":
        sock, address = args
        if sock.family != socket.AF_UNIX:
            attempts.append([event, repr(address)])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        attempts.append([event, repr(args[0])])

sys.addaudithook(hook)
from alpha01.cli import main
sys.argv = ["alpha01", "demo", "--headless", "--speed", "20"]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
print("AUDIT " + json.dumps({"code": code, "attempts": attempts}), flush=True)
"""


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="this kernel does not allow user namespaces")
def test_the_headless_demo_opens_no_connection(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    # The default settings (offline, local-first router, LanceDB knowledge), and no model
    # download: whatever model is installed answers, or the safe reply does.
    env = dict(os.environ, ALPHA01_HOME=str(home), ZHIPUAI_API_KEY="sk-present-but-offline")
    r = subprocess.run(["unshare", "-rn", sys.executable, "-c", PROBE], capture_output=True,
                       text=True, env=env, timeout=600)
    line = next((x for x in r.stdout.splitlines() if x.startswith("AUDIT ")), None)
    assert line, r.stdout + r.stderr
    audit = json.loads(line[6:])
    assert audit["code"] == 0, r.stderr
    assert audit["attempts"] == []
    assert "[店铺 → 小王] 我们每天早上8:30开门" in r.stdout
