"""Pages for people: the recruiter review page and the equality officer's dashboard.

Server-rendered (Jinja2) pages under ``/pages`` of the HTTP service, with one stylesheet and a
little JavaScript (keyboard shortcuts) served from this package: nothing is fetched from the
internet. People sign in by pasting their API key (``vbr keys create --role recruiter``); the
key's role decides what they may see (see :mod:`vbr.pages.web`).

The service mounts the pages through the ``vbr_register_routes`` hook of
:mod:`vbr.pages.plugin`; an embedder can also ``app.include_router(vbr.pages.router)`` on an app
made by :func:`vbr.server.app.create_app`.
"""

__all__ = ["router"]


def __getattr__(name: str):
    """``vbr.pages.router`` on demand: the pages need the ``server`` extra (FastAPI), and importing
    this package (as the default plugin does) must work without it."""
    if name == "router":
        from vbr.pages.routes import router

        return router
    raise AttributeError(f"module 'vbr.pages' has no attribute {name!r}")
