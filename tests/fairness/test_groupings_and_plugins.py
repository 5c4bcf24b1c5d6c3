"""Groupings are data a user can replace; regimes and groupings come through the plugin system."""

from __future__ import annotations

import pytest

from vbr.errors import NotFound, PluginError, ValidationFailed
from vbr.fairness import UNKNOWN, builtin_grouping, load_grouping_file, selection_audit
from vbr.fairness.groupings import nhs_categories
from vbr.fairness.regimes import Regime
from vbr.fairness.results import RegimeResult
from vbr.hookspecs import hookimpl
from vbr.plugins import build, get_plugins, reset_plugins


def test_nhs_codes_and_builtin_groupings():
    names, unknown = nhs_categories()
    assert len(names) == 18 and unknown == {"Z", "99"}
    assert names["R"] == "Other - Chinese"
    detailed = builtin_grouping("detailed")
    assert len(detailed.groups) == 16 and detailed.label("N") == "Black or Black British - African"
    broad = builtin_grouping("broad")
    assert broad.groups == ("White", "Mixed", "Asian", "Black", "Other")
    assert broad.group_of("r") == "Other" and broad.group_of("Z") == UNKNOWN and broad.group_of(None) == UNKNOWN
    wres = builtin_grouping("wres")
    assert wres.groups == ("White", "BME")
    assert {wres.group_of(c) for c in "ABC"} == {"White"}
    assert {wres.group_of(c) for c in "DEFGHJKLMNPRS"} == {"BME"}
    assert wres.group_of("99") == UNKNOWN


def test_user_yaml_grouping_2021_census(tmp_path):
    f = tmp_path / "broad2021.yaml"
    f.write_text("id: broad2021\ntitle: 2021 census\ngroups:\n  White: [A, B, C]\n  Mixed: [D, E, F, G]\n"
                 "  Asian: [H, J, K, L, R]\n  Black: [M, N, P]\n  Other: [S]\n")
    g = load_grouping_file(f)
    assert g.group_of("R") == "Asian"
    r = selection_audit([1, 0, 1, 1], ["R", "H", "A", "S"], grouping=str(f))
    assert r.grouping.id == "broad2021"
    asian = next(x for x in r.regime.stages[0].groups if x.group == "Asian")
    assert (asian.applicants, asian.selected) == (2, 1)


def test_user_csv_grouping(tmp_path):
    f = tmp_path / "trust.csv"
    f.write_text("code,group\nA,White British\nB,Other White\nC,Other White\nN,Black African\n")
    g = load_grouping_file(f)
    assert g.id == "trust" and g.groups == ("White British", "Other White", "Black African")
    assert g.group_of("H") == UNKNOWN  # not in this grouping: unknown, never guessed


def test_grouping_errors(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("id: bad\ngroups:\n  One: [A, B]\n  Two: [B]\n")
    with pytest.raises(ValidationFailed, match="'B' is in both"):
        load_grouping_file(f)
    f.write_text("id: bad\ngroups:\n  Unknown: [A]\n")
    with pytest.raises(ValidationFailed, match="reserved"):
        load_grouping_file(f)
    with pytest.raises(NotFound):
        load_grouping_file(tmp_path / "missing.yaml")


def test_builtin_regimes_and_groupings_are_plugins():
    plugins = get_plugins()
    regimes = plugins.registry("regimes")
    assert {"ugesp", "ll144", "wres"} <= set(regimes)
    assert all(isinstance(r, Regime) for r in regimes.values())
    assert {"detailed", "broad", "wres"} <= set(plugins.registry("groupings"))


class _Majority:
    """A third-party regime: passes everything, to show a plugin can add one."""

    id = "always-pass"
    title = "test regime"

    def audit(self, counts, config, *, grouping, reference=None):
        r = RegimeResult(regime=self.id, title=self.title, stages=[])
        r.decide()
        return r


class _Plugin:
    @hookimpl
    def vbr_register_regimes(self):
        return [_Majority()]

    @hookimpl
    def vbr_register_groupings(self):
        from vbr.fairness.groupings import Grouping

        return [Grouping(id="two", title="Two", groups=("W", "X"), code_to_group={"A": "W", "N": "X"})]


def test_plugin_regime_and_grouping_are_found_by_id():
    reset_plugins(build(load_entrypoints=False, extra_plugins=(_Plugin(),)))
    r = selection_audit([1, 0, 1, 0], ["A", "N", "A", "N"], regime="always-pass", grouping="two")
    assert r.to_dict()["regime"]["id"] == "always-pass" and r.grouping.id == "two"


def test_plugin_claiming_a_builtin_id_is_an_error():
    class Clash:
        @hookimpl
        def vbr_register_regimes(self):
            return [type("U", (), {"id": "ugesp", "title": "x", "audit": None})()]

    with pytest.raises(PluginError, match="ugesp"):
        build(load_entrypoints=False, extra_plugins=(Clash(),)).registry("regimes")
