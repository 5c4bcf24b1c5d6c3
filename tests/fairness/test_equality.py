"""Equality data is kept apart: its own database, strict imports, and no way in from scoring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from vbr.errors import ValidationFailed
from vbr.fairness.equality import EqualityRecord, EqualityStore, equality_url_for, read_equality_csv

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, body: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
    return path


@pytest.fixture()
def estore(tmp_path):
    return EqualityStore(f"sqlite:///{tmp_path / 'vbr-equality.sqlite'}")


def test_url_is_a_sibling_file(tmp_path, monkeypatch):
    monkeypatch.delenv("VBR_EQUALITY_DB", raising=False)
    main = f"sqlite:///{tmp_path / 'data' / 'vbr.sqlite'}"
    assert equality_url_for(main) == f"sqlite:///{tmp_path / 'data' / 'vbr-equality.sqlite'}"
    assert equality_url_for("postgresql://u:p@host/vbr") == "postgresql://u:p@host/vbr_equality"
    with pytest.raises(ValidationFailed):
        equality_url_for("sqlite:///:memory:")
    monkeypatch.setenv("VBR_EQUALITY_DB", str(tmp_path / "elsewhere.sqlite"))
    assert equality_url_for(main) == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"


def test_own_database_not_the_main_store(tmp_path, monkeypatch):
    monkeypatch.delenv("VBR_EQUALITY_DB", raising=False)
    from vbr.store import Store

    main_url = f"sqlite:///{tmp_path / 'vbr.sqlite'}"
    store = Store(main_url)
    eq = EqualityStore.beside(main_url)
    assert eq.url != store.url
    with store.engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert not any("equality" in t for t in tables)
    with eq.engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert "equality_records" in tables and "applications" not in tables


def test_import_with_bom_custom_headers_and_unknown_codes(estore, tmp_path):
    f = write(tmp_path / "eq.csv", "App ID,Ethnicity,Gender\r\na1,A,F\r\na2,z,M\r\na3,99,\r\na4,,F\r\na5,X9,\r\n",
              bom=True)
    rep = estore.import_csv(f, actor="officer", id_col="app id", ethnic_col="ETHNICITY", sex_col="gender")
    assert (rep.rows, rep.inserted, rep.updated) == (5, 5, 0)
    got = estore.records_for(["a1", "a2", "a3", "a4", "a5", "nobody"])
    assert set(got) == {"a1", "a2", "a3", "a4", "a5"}
    # codes kept as given (upper-cased), unknown ones not rejected, blanks kept blank
    assert [got[i].ethnic_code for i in ("a1", "a2", "a3", "a4", "a5")] == ["A", "Z", "99", "", "X9"]
    assert got["a1"].sex == "F" and got["a3"].sex is None and got["a1"].disability is None
    with estore.engine.connect() as conn:
        reads = conn.execute(text("SELECT requested, found FROM equality_reads")).all()
    assert reads == [(6, 5)]


def test_upsert_replaces_code_keeps_columns_the_file_lacks(estore, tmp_path):
    estore.import_csv(write(tmp_path / "one.csv", "application_id,ethnic_code,sex,disability\na1,A,F,Y\na2,N,M,N\n"),
                      actor="officer")
    rep = estore.import_csv(write(tmp_path / "two.csv", "application_id,ethnic_code\na1,Z\na3,H\n"), actor="officer")
    assert (rep.inserted, rep.updated) == (1, 1)
    got = estore.records_for(["a1", "a2", "a3"])
    assert got["a1"].ethnic_code == "Z" and got["a1"].sex == "F" and got["a1"].disability == "Y"
    assert got["a2"].ethnic_code == "N" and got["a3"].sex is None
    assert estore.count() == 3 and len(estore.imports()) == 2


@pytest.mark.parametrize("body, row, field, words", [
    ("application_id,ethnic_code\na1,A\n,B\n", 3, "application_id", "no application id"),
    ("application_id,ethnic_code\na1,A\na1,B\n", 3, "application_id", "already appears in row 2"),
    ("application_id,ethnic_code\na1,A\na2,B,extra\n", 3, None, "3 fields, the header has 2"),
    ("application_id,ethnic_code\na1,White British\n", 2, "ethnic_code", "not an ethnic category code"),
])
def test_malformed_rows_rejected_whole_file(estore, tmp_path, body, row, field, words):
    f = write(tmp_path / "bad.csv", body)
    with pytest.raises(ValidationFailed) as info:
        estore.import_csv(f, actor="officer")
    err = info.value
    assert "nothing was imported" in err.message
    p = err.problems[0]
    assert p.file == str(f) and p.row == row and p.field == field and words in p.message
    assert p.hint
    assert str(f) in str(err) and f"row {row}" in str(err)
    assert estore.count() == 0  # all or nothing


def test_missing_column_and_empty_file(estore, tmp_path):
    with pytest.raises(ValidationFailed, match="no column 'ethnic_code'") as info:
        estore.import_csv(write(tmp_path / "a.csv", "application_id,ethnicity\na1,A\n"), actor="o")
    assert info.value.row == 1 and "--ethnic-col" in info.value.hint
    with pytest.raises(ValidationFailed, match="empty"):
        estore.import_csv(write(tmp_path / "b.csv", ""), actor="o")
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        (tmp_path / "c.csv").write_bytes(b"application_id,ethnic_code\na1,\xff\n")
        estore.import_csv(tmp_path / "c.csv", actor="o")
    assert estore.count() == 0


def test_failed_import_keeps_what_was_stored(estore, tmp_path):
    estore.import_csv(write(tmp_path / "ok.csv", "application_id,ethnic_code\na1,A\n"), actor="o")
    with pytest.raises(ValidationFailed):
        estore.import_csv(write(tmp_path / "bad.csv", "application_id,ethnic_code\na1,B\n,C\n"), actor="o")
    assert estore.records_for(["a1"])["a1"].ethnic_code == "A"


def test_record_model_forbids_extra_fields(tmp_path):
    with pytest.raises(ValueError):
        EqualityRecord(application_id="a1", ethnic_code="A", religion="x")
    assert EqualityRecord(application_id=" a1 ", ethnic_code=" h ").ethnic_code == "H"
    records, cols = read_equality_csv(write(tmp_path / "t.csv", "application_id,ethnic_code\nr1,S\n"))
    assert cols == set() and records == [EqualityRecord(application_id="r1", ethnic_code="S")]


def test_scoring_never_imports_equality_or_fairness():
    """The first wall: nothing under vbr/scoring imports vbr.fairness (equality data lives there)."""
    offenders = []
    files = sorted((ROOT / "vbr" / "scoring").rglob("*.py"))
    assert files, "vbr/scoring has no modules?"
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import inside vbr.scoring: resolve against vbr.scoring
                    base = "vbr.scoring" + (f".{base}" if base else "")
                    if node.level > 1:
                        base = "vbr" + (f".{node.module}" if node.module else "")
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
            for n in names:
                if n == "vbr.fairness" or n.startswith("vbr.fairness.") or n.endswith("equality"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {n}")
    assert not offenders, offenders


class _Importer:
    id = "test-ats"
    kind = "equality"

    def __init__(self, rows):
        self.rows = rows

    def read(self, path):
        yield from self.rows


def test_import_through_an_importer_plugin(estore, tmp_path):
    rep = estore.import_from(_Importer([{"application_id": "a1", "ethnic_code": "H"},
                                        EqualityRecord(application_id="a2", ethnic_code="Z")]), "feed.json",
                             actor="ats")
    assert rep.imported == 2 and estore.records_for(["a1"])["a1"].ethnic_code == "H"
    with pytest.raises(ValidationFailed, match="nothing was imported") as info:
        estore.import_from(_Importer([{"application_id": "a3", "ethnic_code": "A"},
                                      {"application_id": "a4", "ethnicity": "B"}]), "feed.json", actor="ats")
    assert info.value.problems[0].row == 2
    assert estore.count() == 2
    wrong = _Importer([])
    wrong.kind = "applications"
    with pytest.raises(ValidationFailed, match="not equality data"):
        estore.import_from(wrong, "x", actor="ats")
