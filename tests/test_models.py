"""Boundary models refuse what they should: unknown fields, protected characteristics."""

import pytest
from pydantic import ValidationError

from vbr.models import Application, Response, Score, protected_field_names


def test_response_with_ethnicity_is_rejected_with_reason():
    with pytest.raises(ValidationError) as exc:
        Response(application_id="a1", question_id="q1", text="I listened.", ethnicity="A")
    err = exc.value.errors()[0]
    assert err["type"] == "extra_forbidden"
    assert err["loc"] == ("ethnicity",)


def test_application_refuses_unknown_fields():
    with pytest.raises(ValidationError):
        Application(id="a1", campaign_id="c1", date_of_birth="1990-01-01")


def test_no_scoring_model_has_a_protected_field():
    assert protected_field_names(Response) == []
    assert protected_field_names(Score) == []
    # the Disability Confident opt-in is the documented shortlist rule, not scorer input
    assert protected_field_names(Application) == ["disability_confident"]


def test_answer_length_limit():
    with pytest.raises(ValidationError):
        Response(application_id="a1", question_id="q1", text="x" * 50_001)
