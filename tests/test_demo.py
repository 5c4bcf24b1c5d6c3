"""The walking skeleton: `vbr demo` runs end to end and leaves a report and a verified log."""

from __future__ import annotations

from typer.testing import CliRunner

from vbr.cli import _register_all, app


def test_demo_runs_end_to_end(tmp_path):
    _register_all()
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--applicants", "120", "--shortlist", "25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Shortlist gate:" in result.output
    assert "chain intact" in result.output
    report = (out / "audit-report.html").read_text()
    assert "<svg" in report and "http://" not in report.replace("http://www.w3.org", "")
    assert (out / "demo-equality.sqlite").exists()


def test_demo_equality_data_is_independent_of_answers():
    from vbr.demo import generate
    from vbr.rubrics import builtin_rubric_dir, load_rubric_file

    rubric = load_rubric_file(builtin_rubric_dir() / "nhs-constitution.yaml")
    a = generate(rubric, n=200, seed=1)
    assert len(a.applications) == 200 and len(a.equality) == 200
    codes = {r["ethnic_code"] for r in a.equality}
    assert {"Z", "99"} & codes and "A" in codes
    assert all("ethnic" not in r.model_dump() for r in a.responses)
