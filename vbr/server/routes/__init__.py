"""The routes of the HTTP API, one module per resource."""

from __future__ import annotations

from vbr.server.routes import applications, assessments, audit_log, campaigns, equality, meta, scores, shortlists

ROUTERS = [meta.router, assessments.router, campaigns.router, applications.router, equality.router,
           scores.router, shortlists.router, audit_log.router]
