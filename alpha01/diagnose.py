"""What `alpha01 doctor` diagnoses beyond the installation: can this PC answer customers?

Each diagnosis returns checks in the doctor's shape (`name`, `ok`, `detail`, `required`) plus
`fix`: the one line that tells the owner what to do. A failed required check is a problem
(`doctor` exits non-zero). Every probe has a deadline; nothing here writes to the home.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clitext import t
from .errors import Alpha01Error

LOAD_DEADLINE_S = 90.0
MIN_FREE_DISK_MB = 1024
# No release of alpha01 predates this; a clock behind it is wrong, not early.
CLOCK_FLOOR = time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, -1))
CLOCK_SKEW_S = 300.0
# llama.cpp's names for CPU features (its system info) → the flags /proc/cpuinfo lists.
CPU_FLAGS = {"SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c",
             "FMA": "fma", "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f",
             "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni",
             "AVX512_BF16": "avx512_bf16"}
# Windows' IsProcessorFeaturePresent numbers for the features it can report.
WINDOWS_FEATURES = {"SSE3": 13, "SSSE3": 36, "AVX": 39, "AVX2": 40, "AVX512": 41}


def check(name: str, ok: bool, detail: str, *, required: bool = True,
          fix: str | None = None) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "detail": detail, "required": required,
            "fix": None if ok else fix}


def diagnose(app: Any) -> list[dict[str, Any]]:
    """Every diagnosis, in the order an owner fixes things."""
    settings = app.settings
    out: list[dict[str, Any]] = []
    model = _model_checks(app, settings, out)
    out.append(_cpu_check(model))
    out.append(_knowledge_check(app, settings))
    out.append(_wechat_check(settings))
    out.append(_disk_check(app))
    out.append(_clock_check(app))
    return out


# -- the model ------------------------------------------------------------------------------


def _model_checks(app: Any, settings: Any, out: list[dict[str, Any]]) -> bool:
    """Model present, loadable, and its RAM need against what is free. True when a local
    model is in use (so the CPU check matters)."""
    if settings.llm.backend not in ("router", "llamacpp"):
        out.append(check("model", True, t("doc.model.unused", backend=settings.llm.backend),
                         required=False))
        return False
    from .errors import LLMError
    from .llm.models import discover

    try:
        found = discover(settings.llm, app.paths)
    except LLMError as exc:
        out.append(check("model", False, t("doc.model.missing", detail=exc),
                         fix=t("doc.fix.model")))
        return True
    size_mb = found.path.stat().st_size / 1e6
    out.append(check("model", True, t("doc.model.found", path=found.path, how=found.how,
                                      mb=f"{size_mb:.0f}")))
    need = found.spec.ram_mb if found.spec and found.spec.ram_mb else int(size_mb * 1.3 + 300)
    free = available_ram_mb()
    if free is None:
        out.append(check("ram", True, t("doc.ram.unknown", need=need), required=False))
    else:
        out.append(check("ram", free >= need, t("doc.ram", need=need, free=free),
                         fix=t("doc.fix.ram", need=need)))
    ok, detail = load_model(found.path, settings)
    out.append(check("model-load", ok, detail, fix=t("doc.fix.load")))
    return True


def load_model(path: Path, settings: Any, deadline_s: float = LOAD_DEADLINE_S
               ) -> tuple[bool, str]:
    """Load the GGUF file with llama.cpp (small context) off this thread, with a deadline."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False, t("doc.load.no_runtime")
    from .llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(settings=settings.llm, model_path=path, n_ctx=256)
    result: dict[str, Any] = {}

    def run() -> None:
        started = time.perf_counter()
        try:
            backend.load()
            result["s"] = time.perf_counter() - started
        except Exception as exc:  # any failure to load is the finding
            result["error"] = str(exc)

    worker = threading.Thread(target=run, name="doctor-model-load", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        return False, t("doc.load.timeout", s=int(deadline_s))
    if "error" in result:
        return False, t("doc.load.failed", detail=result["error"][:200])
    return True, t("doc.load.ok", s=f"{result['s']:.1f}")


def available_ram_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong),
                        ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong),
                        ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong),
                        ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

        status = MemoryStatus()
        status.dwLength = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.ullAvailPhys // (1024 * 1024))
    return None


# -- the CPU --------------------------------------------------------------------------------


def build_cpu_features() -> list[str] | None:
    """The CPU features the installed llama.cpp build was compiled to use (None: unknown)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    except Exception:  # an old or odd build: say unknown rather than guess
        return None
    names = []
    for part in info.replace("CPU :", "|").split("|"):
        key, _, value = part.partition("=")
        if value.strip() == "1" and key.strip() in CPU_FLAGS:
            names.append(key.strip())
    return names


def cpu_has(features: list[str], cpuinfo: str | None = None) -> dict[str, bool | None]:
    """For each feature: True/False, or None where this OS cannot tell."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        except OSError:
            cpuinfo = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            flags = set(line.split(":", 1)[1].split())
            break
    if flags:
        return {f: CPU_FLAGS[f] in flags for f in features}
    if sys.platform == "win32":
        import ctypes

        present = ctypes.windll.kernel32.IsProcessorFeaturePresent  # type: ignore[attr-defined]
        return {f: bool(present(WINDOWS_FEATURES[f])) if f in WINDOWS_FEATURES else None
                for f in features}
    return dict.fromkeys(features)


def _cpu_check(model_in_use: bool) -> dict[str, Any]:
    features = build_cpu_features()
    if features is None:
        return check("cpu", True, t("doc.cpu.unknown_build"), required=False)
    has = cpu_has(features)
    missing = [f for f, ok in has.items() if ok is False]
    unknown = [f for f, ok in has.items() if ok is None]
    if missing:
        return check("cpu", False, t("doc.cpu.missing", missing=", ".join(missing)),
                     required=model_in_use, fix=t("doc.fix.cpu"))
    detail = t("doc.cpu.ok", features=", ".join(features) or "-")
    if unknown:
        detail += t("doc.cpu.unknown", unknown=", ".join(unknown))
    return check("cpu", True, detail)


# -- the knowledge base ---------------------------------------------------------------------


def _knowledge_check(app: Any, settings: Any) -> dict[str, Any]:
    if settings.knowledge.backend != "lancedb":
        return check("knowledge", False, t("doc.kb.memory"), fix=t("doc.fix.kb_backend"))
    if not app.paths.kb.exists():
        return check("knowledge", False, t("doc.kb.empty"), fix=t("doc.fix.kb_add"))
    from .knowledge import open_kb

    try:
        kb = open_kb(app.paths, settings.knowledge, check_embedder=False)
    except Alpha01Error as exc:
        return check("knowledge", False, str(exc), fix=t("doc.fix.kb_add"))
    try:
        files = kb.files()
        rows = sum(int(f.get("chunks") or 0) for f in files)
        built, wanted = kb.store.built_with, kb.embedder.name
    except Alpha01Error as exc:
        return check("knowledge", False, str(exc), fix=t("doc.fix.kb_add"))
    finally:
        kb.close()
    if not files or not rows:
        return check("knowledge", False, t("doc.kb.empty"), fix=t("doc.fix.kb_add"))
    if built and built != wanted:
        return check("knowledge", False, t("doc.kb.embedder", built=built, wanted=wanted),
                     fix=t("doc.fix.kb_reindex"))
    return check("knowledge", True, t("doc.kb.ok", files=len(files), rows=rows,
                                      embedder=wanted))


# -- WeChat ---------------------------------------------------------------------------------


def _wechat_check(settings: Any) -> dict[str, Any]:
    from importlib import metadata

    wanted = settings.channel.name == "wechat"
    found = []
    for dist, module in (("gcwxauto", "wxauto"), ("wxauto4", "wxauto4")):
        if importlib.util.find_spec(module) is None:
            continue
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} ?")
    if found:
        return check("wechat", True, t("doc.wechat.ok", found=", ".join(found)),
                     required=wanted)
    if sys.platform != "win32":
        detail = t("doc.wechat.not_windows")
    else:
        detail = t("doc.wechat.missing")
    if not wanted:  # said, not a problem: this shop does not use WeChat
        return check("wechat", False, t("doc.wechat.unused", channel=settings.channel.name,
                                        detail=detail), required=False)
    return check("wechat", False, detail, fix=t("doc.fix.wechat"))


# -- disk and clock -------------------------------------------------------------------------


def _disk_check(app: Any) -> dict[str, Any]:
    try:
        free = shutil.disk_usage(app.paths.home).free // (1024 * 1024)
    except OSError as exc:
        return check("disk", False, str(exc), fix=t("doc.fix.disk", mb=MIN_FREE_DISK_MB))
    return check("disk", free >= MIN_FREE_DISK_MB, t("doc.disk", mb=free, home=app.paths.home),
                 fix=t("doc.fix.disk", mb=MIN_FREE_DISK_MB))


def _clock_check(app: Any, now: Callable[[], float] = time.time) -> dict[str, Any]:
    current = now()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(current))
    if current < CLOCK_FLOOR:
        return check("clock", False, t("doc.clock.past", now=stamp), fix=t("doc.fix.clock"))
    latest = _latest_record(app)
    if latest is not None and latest > current + CLOCK_SKEW_S:
        seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(latest))
        return check("clock", False, t("doc.clock.behind", now=stamp, seen=seen),
                     fix=t("doc.fix.clock"))
    return check("clock", True, t("doc.clock.ok", now=stamp,
                                  tz=time.strftime("%z", time.localtime(current))))


def _latest_record(app: Any) -> float | None:
    """When the database last stored a message (read-only; None without a database)."""
    if not app.paths.db.exists():
        return None
    from .errors import Alpha01Error
    from .storage.db import Database

    try:  # with the home's key: the database is encrypted
        reader = Database.open_home(app.paths, reader=True)
    except Alpha01Error:  # no key on this PC, or not a database: the database check says so
        return None
    try:
        row = reader.conn.execute("SELECT max(received_at) FROM messages").fetchone()
    except Exception:  # an old or damaged database: the database check reports it
        return None
    finally:
        reader.close()
    return float(row[0]) if row and row[0] is not None else None
