"""Shared fixtures: every test gets its own data dir and a fresh plugin system."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test depends on timing: hypothesis's per-example deadline and its "data generation is too
# slow" health check both fail a test when the machine is busy (CI shares two cores with a
# database), so neither applies anywhere; a test's own @settings still sets the rest.
settings.register_profile("vbr", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("vbr")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The public scoring data beside the project (../shared/data); a test that needs it is
    skipped, not failed, where it is absent (its README asks for that)."""
    if not (SHARED_DATA / "asap-sas").is_dir():
        pytest.skip(f"shared scoring data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VBR_DATA_DIR", str(tmp_path / "vbr-data"))
    monkeypatch.delenv("VBR_DB", raising=False)
    monkeypatch.delenv("VBR_RUBRIC_PATH", raising=False)
    from vbr.plugins import reset_plugins

    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """Make an installed distribution on the fly: ``fake_dist(name, {module: source}, entry_points)``."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def make(dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
        for mod, src in modules.items():
            (root / f"{mod}.py").write_text(textwrap.dedent(src))
        info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(
            "[vbr]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
        import importlib

        importlib.invalidate_caches()

    yield make
    for name in list(sys.modules):
        if name.startswith("fakeplug_"):
            del sys.modules[name]
