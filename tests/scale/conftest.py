"""One real Dask LocalCluster (2 worker processes on 127.0.0.1) shared by the tests in this folder."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="package")
def client():
    import warnings

    from distributed import Client, LocalCluster

    with warnings.catch_warnings():  # the (dashboard-less) HTTP server moves off a busy port 8787
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()
