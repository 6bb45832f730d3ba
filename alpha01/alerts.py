"""Alerts that reach the owner when nobody is looking at the TUI.

The engine emits `alert` events (a channel went down: WeChat logged out, its UI tree changed or
emptied, the window is gone, the listener died; a send failed). `AlertRelay` listens to them and,
on its own thread so the engine never waits:
- shows a desktop notification (Windows: a tray balloon through PowerShell, no extra package);
- runs the owner's hook command, if set (anywhere: notify-send, a script that texts the owner);
- posts the alert to the sync server's alert list when this PC is enrolled, retrying with the
  same key until the server has it (a retry never doubles it there).
Every outside call has a deadline. The queue is bounded: when alerts pile up faster than they
can be delivered, the oldest undelivered ones are dropped and the drop is counted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("alpha01.alerts")

MAX_QUEUE = 200
RETRY_S = (2.0, 5.0, 15.0, 30.0, 60.0)
TITLE = "阿尔法01 提醒"

# A tray balloon: the text comes in through the environment, never through the command line.
_BALLOON = (
    "Add-Type -AssemblyName System.Windows.Forms; Add-Type -AssemblyName System.Drawing; "
    "$n = New-Object System.Windows.Forms.NotifyIcon; $n.Icon = [System.Drawing.SystemIcons]::"
    "Warning; $n.Visible = $true; $n.ShowBalloonTip(10000, $env:ALPHA01_ALERT_TITLE, "
    "$env:ALPHA01_ALERT, [System.Windows.Forms.ToolTipIcon]::Warning); Start-Sleep -Seconds 6; "
    "$n.Dispose()"
)


@dataclass
class Alert:
    detail: str
    channel: str
    at: float
    key: str = ""
    tries: int = 0
    done: set[str] = field(default_factory=set)  # notify | hook | server

    def __post_init__(self) -> None:
        if not self.key:
            raw = f"{self.at:.3f}\x1f{self.channel}\x1f{self.detail}"
            self.key = "a" + hashlib.blake2b(raw.encode("utf-8"), digest_size=10).hexdigest()


def desktop_notify(title: str, text: str, timeout_s: float = 10.0) -> bool:
    """A desktop notification on Windows; False elsewhere (use the hook there)."""
    if sys.platform != "win32":
        return False
    env = {**os.environ, "ALPHA01_ALERT": text, "ALPHA01_ALERT_TITLE": title}
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    subprocess.Popen(["powershell", "-NoProfile", "-NonInteractive", "-Command", _BALLOON],
                     env=env, creationflags=flags, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)  # shows for a few seconds on its own
    return True


def run_hook(command: str, text: str, timeout_s: float) -> None:
    """Run the owner's command with the alert as its last argument; raises when it fails."""
    argv = shlex.split(command, posix=sys.platform != "win32") + [text]
    env = {**os.environ, "ALPHA01_ALERT": text}
    done = subprocess.run(argv, env=env, timeout=timeout_s, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"hook exited {done.returncode}: "
                           f"{done.stderr.decode('utf-8', 'replace')[-200:]}")


class AlertRelay:
    """An engine listener: `relay(kind, data)`. `start()` runs the delivery thread."""

    def __init__(self, *, client: Any = None, hook: str = "", desktop: bool = True,
                 hook_timeout_s: float = 10.0, clock: Callable[[], float] = time.time,
                 notifier: Callable[[str, str], Any] | None = None,
                 retry_s: tuple[float, ...] = RETRY_S) -> None:
        self.client = client
        self.hook = hook
        self.desktop = desktop
        self.hook_timeout_s = hook_timeout_s
        self.clock = clock
        self.notifier = notifier or desktop_notify
        self.retry_s = retry_s
        self.dropped = 0
        self.delivered: list[Alert] = []  # fully delivered, newest last (bounded)
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "alert":
            return
        if self._queue.qsize() >= MAX_QUEUE:
            try:
                self._queue.get_nowait()
                self.dropped += 1
            except queue.Empty:
                pass
        self._queue.put(Alert(str(data.get("detail", ""))[:500], str(data.get("channel", "")),
                              self.clock()))

    def start(self) -> AlertRelay:
        self._thread = threading.Thread(target=self._run, name="alert-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        pending: list[tuple[float, Alert]] = []  # (due, alert) waiting for a retry
        while not self._stop.is_set():
            wait = min((due for due, _ in pending), default=None)
            timeout = None if wait is None else max(0.0, wait - time.monotonic())
            try:
                alert = self._queue.get(timeout=timeout)
            except queue.Empty:
                alert = None
            if alert is not None:
                pending.append((0.0, alert))
            now = time.monotonic()
            due, pending = [a for d, a in pending if d <= now], [p for p in pending if p[0] > now]
            for a in due:
                if not self.deliver(a):
                    delay = self.retry_s[min(a.tries - 1, len(self.retry_s) - 1)]
                    pending.append((time.monotonic() + delay, a))

    def deliver(self, alert: Alert) -> bool:
        """One attempt at every way still owed; True when nothing is left to retry."""
        alert.tries += 1
        text = f"{alert.channel}: {alert.detail}" if alert.channel else alert.detail
        if "notify" not in alert.done:
            alert.done.add("notify")  # a notification is shown once or not at all
            if self.desktop:
                try:
                    self.notifier(TITLE, text)
                except Exception as exc:
                    log.warning("desktop notification failed: %s", exc)
        if self.hook and "hook" not in alert.done:
            try:
                run_hook(self.hook, text, self.hook_timeout_s)
                alert.done.add("hook")
            except Exception as exc:
                log.warning("alert hook failed (try %d): %s", alert.tries, exc)
        if self.client is not None and "server" not in alert.done:
            try:
                self.client.post_alert(alert.key, alert.detail, alert.channel, alert.at)
                alert.done.add("server")
            except Exception as exc:  # offline: retried with the same key
                log.info("alert not yet on the sync server (try %d): %s", alert.tries, exc)
        owed = {"hook"} if self.hook else set()
        owed |= {"server"} if self.client is not None else set()
        if owed <= alert.done or alert.tries >= 50:
            self.delivered.append(alert)
            del self.delivered[:-100]
            return True
        return False
