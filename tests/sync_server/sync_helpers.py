"""Helpers shared by the sync server tests (a plain module: conftest is not importable)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sync_server.service import SyncService

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def enroll_device(service: SyncService, store_id: int, **status) -> dict:
    """Enroll a device for a store and send one heartbeat; adds an `auth` header dict."""
    code, _ = service.create_enrollment_code(store_id)
    device = service.enroll(code, name="pc")
    defaults = {"channel_ok": True, "wechat_name": f"店员{device['device_id'][-3:]}"}
    service.heartbeat(device["device_id"], {**defaults, **status})
    device["auth"] = {"Authorization": f"Bearer {device['device_id']}.{device['device_secret']}"}
    return device


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`python -m sync_server serve` in a subprocess on a free loopback port."""

    def __init__(self, db: Path, *extra: str):
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # stderr to a file, not a pipe: a server logging tracebacks must never block on a full
        # pipe nobody reads (it would hang, not fail).
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync_server", "serve", "--db", str(db),
             "--port", str(self.port), *extra],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.errors()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not come up within 20 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()

    def errors(self) -> str:
        """What the server wrote to stderr so far (tracebacks, warnings)."""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")
