"""Plugin loading, ordering, failure isolation, duplicate ids, and the hook-spec meta-test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from vbr import hookspecs
from vbr.errors import PluginError
from vbr.plugins import DEFAULT_PLUGINS, build

DUPLICATE_6CS = """
from vbr.hookspecs import hookimpl
from vbr.rubrics import builtin_rubric_dir

@hookimpl
def vbr_register_rubrics():
    return [builtin_rubric_dir() / "6cs.yaml"]
"""

BROKEN = "raise ImportError('needs a library that is not installed')\n"

GOOD = """
from vbr.hookspecs import hookimpl

class EchoScorer:
    id = "echo"
    version = "0.1"
    def score(self, rubric, question, text):
        return []

@hookimpl
def vbr_register_scorers():
    return [EchoScorer()]
"""


def test_default_plugins_are_loaded_like_any_other():
    system = build(load_entrypoints=False)
    names = [row["name"] for row in system.describe()]
    assert names[: len(DEFAULT_PLUGINS)] == list(DEFAULT_PLUGINS) or set(DEFAULT_PLUGINS) <= set(names)
    assert {"6cs", "nhs-constitution"} <= set(system.registry("rubrics"))
    assert all(len(r.values) == 6 for r in system.registry("rubrics").values())


def test_broken_plugin_is_named_and_the_rest_still_work(fake_dist, monkeypatch):
    monkeypatch.delenv("VBR_STRICT_PLUGINS", raising=False)  # the lenient default (make test sets strict)
    fake_dist("fakeplug-broken", {"fakeplug_broken": BROKEN}, {"broken": "fakeplug_broken"})
    fake_dist("fakeplug-good", {"fakeplug_good": GOOD}, {"good": "fakeplug_good"})
    system = build()
    assert [f.name for f in system.failures] == ["broken (fakeplug-broken)"]
    assert "needs a library that is not installed" in system.failures[0].error
    assert "echo" in system.registry("scorers")
    row = next(r for r in system.describe() if r["name"] == "good")
    assert row["distribution"] == "fakeplug-good 0.1" and row["hooks"] == ["vbr_register_scorers"]


def test_strict_mode_turns_a_broken_plugin_into_an_error(fake_dist, monkeypatch):
    fake_dist("fakeplug-broken", {"fakeplug_broken": BROKEN}, {"broken": "fakeplug_broken"})
    monkeypatch.setenv("VBR_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'broken' \\(fakeplug-broken\\) failed to load"):
        build()


def test_duplicate_rubric_id_names_both_plugins(fake_dist):
    fake_dist("fakeplug-dup", {"fakeplug_dup": DUPLICATE_6CS}, {"dup": "fakeplug_dup"})
    system = build()
    with pytest.raises(PluginError) as exc:
        system.registry("rubrics")
    assert "rubric id '6cs' is registered by two plugins" in str(exc.value)
    assert "'vbr.default_plugins.rubrics'" in str(exc.value) and "'dup'" in str(exc.value)


def test_load_plugins_env_limits_third_party_plugins(fake_dist, monkeypatch):
    fake_dist("fakeplug-good", {"fakeplug_good": GOOD}, {"good": "fakeplug_good"})
    fake_dist("fakeplug-dup", {"fakeplug_dup": DUPLICATE_6CS}, {"dup": "fakeplug_dup"})
    monkeypatch.setenv("VBR_LOAD_PLUGINS", "fakeplug-good")
    system = build()
    names = {r["name"] for r in system.describe()}
    assert "good" in names and "dup" not in names
    assert "6cs" in system.registry("rubrics")  # no duplicate: dup was not loaded


def test_third_party_event_listeners_run_before_defaults(fake_dist):
    """Defaults are trylast: an installed plugin's implementation is called first."""
    order = []

    class First:
        @hookspecs.hookimpl
        def vbr_audit_complete(self, campaign_id, audit):
            order.append("plugin")

    class Default:
        @hookspecs.hookimpl(trylast=True)
        def vbr_audit_complete(self, campaign_id, audit):
            order.append("default")

    system = build(load_entrypoints=False, extra_plugins=(Default(), First()))
    system.hook.vbr_audit_complete(campaign_id="c", audit={}, store=None)
    assert order == ["plugin", "default"]


def test_misspelled_hook_implementation_is_caught():
    class Typo:
        @hookspecs.hookimpl
        def vbr_register_rubric(self):  # missing the final "s"
            return []

    with pytest.raises(Exception, match="unknown hook 'vbr_register_rubric'"):
        build(load_entrypoints=False, extra_plugins=(Typo(),))


def _hookspecs():
    return [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("vbr_")]


def test_every_hook_spec_is_documented_and_tested():
    """Meta-test: a hook spec without a docstring, or that no test mentions, fails here."""
    tests_root = Path(__file__).resolve().parent
    corpus = "".join(p.read_text() for p in tests_root.rglob("test_*.py"))
    corpus += "".join(p.read_text() for p in (tests_root.parent / "plugins").rglob("test_*.py"))
    missing_docs = [n for n, fn in _hookspecs() if not (fn.__doc__ or "").strip()]
    untested = [n for n, _ in _hookspecs() if corpus.count(n) < 1]
    assert missing_docs == []
    assert untested == []
    assert len(_hookspecs()) >= 12
