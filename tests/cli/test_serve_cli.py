"""`vbr serve` options reach uvicorn and the app's settings (uvicorn.run is replaced: nothing listens)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vbr.cli import _register_all, app

pytest.importorskip("uvicorn")


@pytest.fixture
def served(monkeypatch):
    import uvicorn

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    return calls


def _run(*args):
    _register_all()
    return CliRunner().invoke(app, ["serve", *args])


def test_threads_and_synchronous_reach_the_settings(served, tmp_path):
    r = _run("--db", f"sqlite:///{tmp_path / 'a.sqlite'}", "--threads", "2", "--sqlite-synchronous", "normal",
             "--port", "9999")
    assert r.exit_code == 0, r.output
    [(args, kw)] = served
    settings = args[0].state.settings
    assert (settings.threads, settings.sqlite_synchronous) == (2, "normal")
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 9999)


def test_threads_default_and_bounds(served, tmp_path):
    assert _run("--db", f"sqlite:///{tmp_path / 'a.sqlite'}").exit_code == 0
    assert served[0][0][0].state.settings.threads == 4
    r = _run("--db", f"sqlite:///{tmp_path / 'a.sqlite'}", "--threads", "0")
    assert r.exit_code == 2 and len(served) == 1


def test_model_files_are_checked_before_serving(served, tmp_path, monkeypatch):
    from vbr.plugins import reset_plugins
    from vbr.scoring.model_scorer import MODELS_ENV

    monkeypatch.setenv(MODELS_ENV, "")  # serve adds its --model files here; undone after the test
    bad = tmp_path / "bad.vbrm"
    bad.write_bytes(b"not a zip")
    try:
        r = _run("--db", f"sqlite:///{tmp_path / 'a.sqlite'}", "--model", str(bad))
        assert r.exit_code == 5 and "damaged or not a vbr model" in r.output and "bad.vbrm" in r.output, r.output
        assert served == []
    finally:
        reset_plugins()
