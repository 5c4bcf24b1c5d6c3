"""The deliveries router (mounted on a bare FastAPI app here) and the ``vbr webhooks`` commands."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from vbr.webhooks.api import Caller, get_caller, get_outbox, router
from vbr.webhooks.outbox import Outbox


def app_for(outbox: Outbox, caller: Caller | None) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_outbox] = lambda: outbox
    if caller is not None:
        app.dependency_overrides[get_caller] = lambda: caller
    return TestClient(app)


def seed(outbox: Outbox):
    a = outbox.add_endpoint("https://a.example/h", actor="admin", tenant="trust-a")
    b = outbox.add_endpoint("https://b.example/h", actor="admin", tenant="trust-b")
    for _ in range(3):
        outbox.enqueue("scores.ready", {"campaign_id": "ca"}, tenant="trust-a")
    outbox.enqueue("scores.ready", {"campaign_id": "cb"}, tenant="trust-b")
    return a, b


def test_list_page_show_replay_and_tenant_isolation(outbox):
    seed(outbox)
    client = app_for(outbox, Caller(actor="ats-a", tenant="trust-a", role="ats"))
    page = client.get("/v1/webhooks/deliveries", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_after"] == page["items"][-1]["id"]
    rest = client.get("/v1/webhooks/deliveries", params={"after": page["next_after"], "limit": 2}).json()
    assert len(rest["items"]) == 1 and rest["next_after"] is None
    ids = [d["id"] for d in page["items"] + rest["items"]]
    one = client.get(f"/v1/webhooks/deliveries/{ids[0]}").json()
    assert one["payload"]["type"] == "scores.ready" and one["attempt_log"] == []
    other = [d for d in outbox.deliveries(tenant="trust-b")][0]["id"]
    assert client.get(f"/v1/webhooks/deliveries/{other}").status_code == 404
    assert client.post(f"/v1/webhooks/deliveries/{other}/replay").status_code == 404
    r = client.post(f"/v1/webhooks/deliveries/{ids[0]}/replay")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert client.get("/v1/webhooks/deliveries", params={"status": "bogus"}).status_code == 422
    assert client.get("/v1/webhooks/deliveries", params={"limit": 10_000}).status_code == 422


def test_routes_refuse_without_authentication_and_for_other_roles(outbox):
    seed(outbox)
    assert app_for(outbox, None).get("/v1/webhooks/deliveries").status_code == 401
    recruiter = app_for(outbox, Caller(actor="r", tenant="trust-a", role="recruiter"))
    assert recruiter.get("/v1/webhooks/deliveries").status_code == 403
    assert recruiter.post("/v1/webhooks/deliveries/1/replay").status_code == 403


def cli():
    from vbr.cli import app

    if not any(getattr(g, "name", None) == "webhooks" for g in app.registered_groups):
        from vbr.cli import webhooks

        webhooks.register(app)
    return app


def test_cli_endpoints_rotate_list_replay_deliver(tmp_path, httpserver):
    from werkzeug import Response

    db = str(tmp_path / "cli.sqlite")
    runner = CliRunner()
    app = cli()
    hits = []
    httpserver.expect_request("/h").respond_with_handler(lambda r: hits.append(r.headers["webhook-id"]) or Response("", 200))
    r = runner.invoke(app, ["webhooks", "endpoints", "add", httpserver.url_for("/h"), "--as", "admin", "--db", db,
                            "--json"])
    assert r.exit_code == 0, r.output
    ep = json.loads(r.output)
    assert ep["secret"].startswith("whsec_")
    r = runner.invoke(app, ["webhooks", "endpoints", "list", "--db", db, "--json"])
    assert r.exit_code == 0 and ep["secret"] not in r.output and ep["id"] in r.output
    r = runner.invoke(app, ["webhooks", "rotate-secret", ep["id"], "--grace", "60", "--as", "admin", "--db", db])
    assert r.exit_code == 0 and "whsec_" in r.output
    Outbox.open(f"sqlite:///{db}").enqueue("scores.ready", {"campaign_id": "c"})
    r = runner.invoke(app, ["webhooks", "deliver", "--once", "--db", db])
    assert r.exit_code == 0, r.output
    assert '"delivered": 1' in r.output and len(hits) == 1
    r = runner.invoke(app, ["webhooks", "list", "--db", db, "--json"])
    [d] = json.loads(r.output)
    assert d["status"] == "delivered"
    r = runner.invoke(app, ["webhooks", "replay", str(d["id"]), "--as", "admin", "--db", db])
    assert r.exit_code == 0, r.output
    runner.invoke(app, ["webhooks", "deliver", "--once", "--db", db])
    assert len(hits) == 2 and hits[0] == hits[1]
    r = runner.invoke(app, ["webhooks", "replay", "999", "--as", "admin", "--db", db])
    assert r.exit_code == 4 and "no webhook delivery 999" in r.output
    r = runner.invoke(app, ["webhooks", "endpoints", "add", "ftp://x", "--as", "admin", "--db", db])
    assert r.exit_code == 2
