"""Default plugin: mount the pages (``/pages``) on the HTTP service through ``vbr_register_routes``."""

from __future__ import annotations

from vbr.hookspecs import hookimpl


@hookimpl
def vbr_register_routes(app):
    from vbr.pages.routes import router
    from vbr.pages.session import server_secret

    if getattr(app.state, "pages_mounted", False):
        return  # already mounted (the hook called twice)
    app.state.pages_mounted = True
    server_secret(app)  # fix the signing secret when the app is built, not on the first request
    app.include_router(router)
