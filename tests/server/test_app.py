"""The app itself: OpenAPI under /v1, a docs page with local assets only, plugin routes, keys CLI."""

from __future__ import annotations

import json
import re
import warnings

from sqlalchemy import text
from typer.testing import CliRunner

from vbr.hookspecs import hookimpl
from vbr.plugins import build
from vbr.server.app import Settings, create_app


def test_openapi_is_published_under_v1_with_problem_responses(svc):
    from vbr.server.routes import ROUTERS

    spec = svc.client.get("/v1/openapi.json").json()
    ours = {"/v1" + r.path for router in ROUTERS for r in router.routes}
    assert len(ours) >= 15 and ours <= set(spec["paths"])  # plugins' routes may live at their own URLs
    assert "ProblemDetails" in spec["components"]["schemas"]
    post = spec["paths"]["/v1/campaigns/{campaign_id}/applications"]["post"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["422"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_docs_page_uses_local_assets_only(svc):
    r = svc.client.get("/v1/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "/v1/openapi.json" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the docs page must not load remote assets"
    assert "cdn" not in html.lower()
    assert svc.client.get("/docs").status_code == 404 and svc.client.get("/redoc").status_code == 404


def test_plugins_add_routes_on_app_creation(tmp_path, monkeypatch):
    from vbr.engine import Engine

    monkeypatch.delenv("VBR_STRICT_PLUGINS", raising=False)  # this test is about the lenient default

    class Partner:
        @hookimpl
        def vbr_register_routes(self, app):
            @app.get("/partner/ping")
            def ping():
                return {"pong": True}

    class Broken:
        @hookimpl
        def vbr_register_routes(self, app):
            raise RuntimeError("broken plugin")

    plugins = build(load_entrypoints=False, extra_plugins=(Partner(),))
    app = create_app(Engine(tmp_path / "a.sqlite", plugins=plugins))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    assert TestClient(app).get("/partner/ping").json() == {"pong": True}
    # a plugin that fails is reported and the service still starts
    plugins = build(load_entrypoints=False, extra_plugins=(Broken(),))
    app = create_app(Engine(tmp_path / "b.sqlite", plugins=plugins))
    assert TestClient(app).get("/v1/health").json() == {"status": "ok"}


def test_server_migrations_are_in_their_range(svc):
    from vbr.server.migrations import SERVER

    assert SERVER and all(100 <= v <= 199 for v, _, _ in SERVER)
    with svc.engine.store.engine.connect() as conn:
        done = {r[0] for r in conn.execute(text("SELECT version FROM schema_migrations"))}
    assert {v for v, _, _ in SERVER} <= done


def test_keys_cli_prints_a_key_once_and_stores_only_its_hash(tmp_path):
    from vbr.cli import _register_all, app

    _register_all()
    db = str(tmp_path / "k.sqlite")
    runner = CliRunner()
    r = runner.invoke(app, ["keys", "create", "--role", "recruiter", "--tenant", "trust-b", "--name", "Sam",
                            "--expires-in-days", "30", "--db", db])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"vbr_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", key)
    from vbr.store import open_store

    with open_store(f"sqlite:///{db}").engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
        dump = json.dumps({k: str(v) for k, v in row.items()})
    secret = key.split("_", 2)[2]  # the secret itself may contain "_"
    assert key not in dump and secret not in dump
    import hashlib

    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    listing = runner.invoke(app, ["keys", "list", "--json", "--db", db])
    items = json.loads(listing.stdout)
    assert items[0]["role"] == "recruiter" and items[0]["status"] == "active" and key not in listing.stdout
    assert runner.invoke(app, ["keys", "revoke", row["id"], "--db", db]).exit_code == 0
    assert json.loads(runner.invoke(app, ["keys", "list", "--json", "--db", db]).stdout)[0]["status"] == "revoked"
    bad = runner.invoke(app, ["keys", "create", "--role", "superuser", "--db", db])
    assert bad.exit_code != 0


def test_a_revoked_key_stops_working_at_once(svc):
    key = svc.key("ats", "t9", name="temp")
    h = {"Authorization": f"Bearer {key}"}
    assert svc.client.get("/v1/me", headers=h).status_code == 200
    svc.app.state.keys.revoke(key.split("_")[1], actor="test")
    r = svc.client.get("/v1/me", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_webhook_deliveries_are_mounted_behind_the_services_keys_without_dependency_overrides(svc):
    """The deliveries routes use the service's own keys; the app sets no dependency_overrides
    (with any set, FastAPI re-analyses every dependency of every request)."""
    assert svc.app.dependency_overrides == {}
    r = svc.client.get("/v1/webhooks/deliveries")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert svc.client.get("/v1/webhooks/deliveries", headers=svc.h("recruiter")).status_code == 403
    r = svc.client.get("/v1/webhooks/deliveries", headers=svc.h("ats"))
    assert r.status_code == 200 and r.json() == {"items": [], "next_after": None}


def test_database_work_runs_on_a_bounded_thread_pool(tmp_path):
    """Settings.threads bounds how many requests' database work runs at once (4 by default)."""
    import anyio.to_thread
    import pytest
    from fastapi.testclient import TestClient

    from vbr.engine import Engine

    for settings, want in ((Settings(), 4), (Settings(threads=2), 2)):
        app = create_app(Engine(tmp_path / f"t{want}.sqlite"), settings=settings)

        @app.get("/test/threads")
        async def threads() -> dict:
            return {"tokens": anyio.to_thread.current_default_thread_limiter().total_tokens}

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with TestClient(app) as client:
                assert client.get("/test/threads").json() == {"tokens": want}
    with pytest.raises(ValueError, match="at least 1"):
        create_app(Engine(tmp_path / "t0.sqlite"), settings=Settings(threads=0))
