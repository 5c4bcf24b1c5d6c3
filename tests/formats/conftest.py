"""Fixtures for the file adapters: an engine with one campaign, and CSV writers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

QUESTIONS = ["6cs-care-1", "6cs-compassion-1"]


@pytest.fixture
def engine(tmp_path):
    from vbr.engine import Engine

    eng = Engine(tmp_path / "vbr.sqlite")
    eng.create_campaign("c1", "Staff nurse", "6cs", question_ids=QUESTIONS, actor="recruiter")
    return eng


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


HEADER = ["Application ID", "Vacancy Reference", "First Name", "Last Name", "Email", "Disability Confident",
          "Date Submitted", "6cs-care-1", "6cs-compassion-1"]


def row(app_id: str, first="Mary", last="Okafor", care="I listened to the patient and involved her family.",
        compassion="I stayed with a frightened patient and held her hand.", vacancy="V-100", dc="no",
        date="2025-03-01") -> list[str]:
    return [app_id, vacancy, first, last, f"{first.lower()}@example.org", dc, date, care, compassion]


def snapshot(eng) -> dict[str, int]:
    """Row counts of every table that an import could touch (main store)."""
    with eng.store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("applications", "responses", "scores", "audit_log")}
