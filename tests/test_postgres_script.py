"""scripts/postgres.sh: the durable cluster (``VBR_PG_DURABLE=1``) really is durable, the test
cluster really is not, and the load benchmark labels each for what it is, so figures measured on
the fast test cluster cannot be reported as production's.

Runs where the test cluster runs (``VBR_TEST_PG_URL`` set, as in CI): it starts a second,
throwaway durable cluster in its own directory and port, then stops and deletes it."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("VBR_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="set VBR_TEST_PG_URL (bash scripts/postgres.sh) for PostgreSQL")


def _settings(url: str) -> dict[str, str]:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return {name: conn.execute(text(f"SHOW {name}")).scalar()
                    for name in ("fsync", "synchronous_commit", "full_page_writes")}
    finally:
        eng.dispose()


def _http_load():
    spec = importlib.util.spec_from_file_location("http_load", ROOT / "benchmarks" / "http_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def durable_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pg_dir = tempfile.mkdtemp(prefix="vbr-pg-durable-test-", dir="/tmp")  # short: the socket path has a limit
    env = {**os.environ, "VBR_PG_DURABLE": "1", "VBR_PG_DIR": pg_dir, "VBR_PG_PORT": str(port)}
    try:
        out = subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh")], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        yield out.stdout.strip()
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "postgres-stop.sh"), "--purge"], env=env,
                       capture_output=True, timeout=120)
    assert not Path(pg_dir).exists()


def test_durable_cluster_keeps_postgres_durable_defaults(durable_url):
    assert durable_url.endswith("/vbr_test") and durable_url.startswith("postgresql+psycopg://vbr:vbr@127.0.0.1:")
    assert _settings(durable_url) == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    # the equality store's sibling database is there too, as for the test cluster
    assert _settings(durable_url + "_equality")["fsync"] == "on"


def test_test_cluster_is_not_durable():
    assert _settings(PG_URL) == {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def test_load_benchmark_labels_each_cluster_for_what_it_is(durable_url):
    http_load = _http_load()
    assert http_load.pg_durability(durable_url) == "durable"
    assert http_load.pg_durability(PG_URL) == "fsync off, sync commit off"


def test_durable_flag_is_checked():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh")], env={**os.environ, "VBR_PG_DURABLE": "yes"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert "VBR_PG_DURABLE must be 0 or 1, not 'yes'" in out.stderr
