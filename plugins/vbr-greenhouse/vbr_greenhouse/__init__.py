"""vbr as a Greenhouse assessment partner (a vbr plugin).

Installed, it adds Greenhouse's Assessment Partner endpoints to ``vbr serve`` through the
``vbr_register_routes`` hook (see :mod:`vbr_greenhouse.routes` and the README). Each adapter
listens to its own engine's ``vbr_scores_ready`` event to complete Greenhouse interviews.
"""

from __future__ import annotations

from vbr.hookspecs import hookimpl
from vbr_greenhouse.adapter import GreenhouseAdapter
from vbr_greenhouse.settings import Settings

__all__ = ["GreenhouseAdapter", "Settings", "register", "vbr_register_routes"]


def register(app, engine=None, *, settings: Settings | None = None, http=None) -> GreenhouseAdapter:
    """Add the Greenhouse endpoints to a FastAPI ``app`` (see :func:`vbr_greenhouse.routes.register`)."""
    from vbr_greenhouse.routes import register as _register

    return _register(app, engine, settings=settings, http=http)


@hookimpl
def vbr_register_routes(app):
    register(app)
