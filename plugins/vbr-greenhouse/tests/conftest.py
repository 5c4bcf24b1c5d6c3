"""Every test gets its own data dir and a fresh plugin system (as in vbr's own tests)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VBR_DATA_DIR", str(tmp_path / "vbr-data"))
    for name in ("VBR_DB", "VBR_EQUALITY_DB", "VBR_GREENHOUSE_KEY_SHA256", "VBR_GREENHOUSE_PUBLIC_URL",
                 "VBR_GREENHOUSE_CALLBACK_KEY", "VBR_GREENHOUSE_PREFIX", "VBR_GREENHOUSE_PROFILE_URL"):
        monkeypatch.delenv(name, raising=False)
    from vbr.plugins import reset_plugins

    reset_plugins()
    yield
    reset_plugins()
