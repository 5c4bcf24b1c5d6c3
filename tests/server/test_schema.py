"""A bounded schemathesis run against the published OpenAPI document: no 5xx, and every answer
(status, content type, headers, body) conforms to the schema. Runs in well under two minutes;
``VBR_SCHEMATHESIS_EXAMPLES`` raises the number of cases per operation for a longer run."""

from __future__ import annotations

import os
import warnings

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402

from tests.server.conftest import make_campaign  # noqa: E402

EXAMPLES = int(os.environ.get("VBR_SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance, st_checks.content_type_conformance,
          st_checks.response_schema_conformance, st_checks.response_headers_conformance]


@pytest.fixture
def api(svc):
    make_campaign(svc, n=3)
    svc.client.post("/v1/campaigns/band5-2026/scores", headers=svc.h("ats"), json={})
    svc.client.post("/v1/campaigns/band5-2026/shortlists", headers=svc.h("ats"), json={"top": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/v1/openapi.json", svc.app)
    schema.svc = svc
    return schema


ROLE_FOR = {"/v1/shortlists/{shortlist_id}/audit": "equality_officer",
            "/v1/campaigns/{campaign_id}/equality-summary": "equality_officer",
            "/v1/equality-records": "equality_officer",
            "/v1/applications/{application_id}/overrides": "recruiter"}


def test_api_conforms_to_its_schema(api):
    """Each operation with generated (valid and invalid) input; failures are collected and listed."""
    svc = api.svc
    failures: list[str] = []
    # vbr's own routes; plugins' routes and the webhook deliveries routes are tested by their modules
    from vbr.server.routes import ROUTERS

    ours = {"/v1" + r.path for router in ROUTERS for r in router.routes}
    operations = [r.ok() for r in api.get_all_operations() if r.ok().path in ours]
    assert len(operations) >= 18
    for op in operations:
        key = svc.key(ROLE_FOR.get(op.path, "admin"))

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
            case.call_and_validate(checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{op.method.upper()} {op.path}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
