"""The HTTP service (``pip install vbr[server]``, ``vbr serve``).

Import :func:`create_app` from :mod:`vbr.server.app`; this package itself imports nothing heavy,
so ``vbr keys`` works without FastAPI installed.
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    from vbr.server.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
