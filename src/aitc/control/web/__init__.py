"""The web dashboard: server-rendered pages (Jinja2) with a few lines of vendored JavaScript.

``install(app)`` mounts the pages at ``/`` and their static files at ``/static``, beside the
API (``/api/v1``). The pages act for a member signed in with an API token (``session``) or,
when lab.yaml configures it, through the institution's OpenID Connect provider
(``oidcpages``), and read the store through the same functions as the API's routes, so roles
and scoping are the API's. See docs/web.md.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aitc.control.web.oidc import RelyingParty
from aitc.control.web.render import environment
from aitc.control.web.session import SessionCodec


def install(app: FastAPI) -> None:
    """Mount the pages on ``app`` (built by ``create_app``, whose store they use)."""
    # The pages use the API's helpers, and the API imports this package: import them here,
    # so that importing ``aitc.control.web.*`` first works too.
    from aitc.control.web import adminpages, coursepages, jobpages, oidcpages, pages, reportpages

    app.state.web_templates = environment()
    app.state.web_codec = SessionCodec(app.state.store)
    settings = app.state.settings
    oidc = settings.oidc
    app.state.web_oidc = (
        RelyingParty(oidc, settings.oidc_client_secret, settings.clock) if oidc else None
    )
    app.state.web_templates.globals["oidc_label"] = oidc.label if oidc else None
    app.include_router(oidcpages.router)
    app.include_router(pages.router)
    app.include_router(jobpages.router)
    for module in (coursepages, reportpages, adminpages):
        app.include_router(module.router)
    static = str(files("aitc.control.web") / "static")
    app.mount("/static", StaticFiles(directory=static), name="static")
