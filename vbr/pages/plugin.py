"""Default plugin: mount the pages (``/pages``) on the HTTP service through ``vbr_register_routes``."""

from __future__ import annotations

from vbr.hookspecs import hookimpl


@hookimpl
def vbr_register_routes(app):
    from vbr.pages.routes import router
    from vbr.pages.session import server_secret

    if any(getattr(r, "path", "").startswith("/pages/") for r in app.router.routes):
        return  # already mounted (the plugin registered twice, or included by hand)
    server_secret(app)  # fix the signing secret when the app is built, not on the first request
    app.include_router(router)
