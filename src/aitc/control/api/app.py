"""``create_app(settings)``: the FastAPI app of the control plane (never built at import)."""

from __future__ import annotations

import anyio
from fastapi import FastAPI
from sqlalchemy import text

from aitc import __version__
from aitc.control.api import errors
from aitc.control.api.authcache import AuthCache
from aitc.control.api.bodylimit import BodyLimit
from aitc.control.api.deps import AUTH_THREADS, REQUEST_SESSIONS, StoreDep
from aitc.control.api.logs import FOLLOW_THREADS, FollowSlots
from aitc.control.api.routes import (
    admin,
    cluster,
    jobs,
    metrics,
    notebooks,
    report,
    reservations,
)
from aitc.control.api.schemas import Health
from aitc.control.api.settings import Settings
from aitc.control.courses import labroutes
from aitc.control.courses import routes as course_routes
from aitc.control.metrics import AuthFailures, ControlMetrics
from aitc.control.store.batch import GroupCommit
from aitc.control.store.db import Store
from aitc.control.web import install as install_web

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: open (and migrate) the store unless ``settings.store`` is given."""
    settings = settings or Settings()
    store = settings.store or Store.open(settings.database_url)
    app = FastAPI(
        title="aitc control plane",
        version=__version__,
        description="Submit and watch jobs on the lab's GPU cluster.",
    )
    app.state.settings, app.state.store = settings, store
    app.state.auth_cache = AuthCache(settings.clock, settings.auth_cache_s)
    app.state.group_commit = GroupCommit(store.session)
    app.state.follow_slots = FollowSlots(settings.max_follows_per_member)
    app.state.follow_limiter = anyio.CapacityLimiter(FOLLOW_THREADS)
    app.state.auth_limiter = anyio.CapacityLimiter(AUTH_THREADS)
    app.state.session_slots = anyio.Semaphore(REQUEST_SESSIONS)
    errors.install(app)
    for module in (jobs, cluster, admin, reservations, report):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(course_routes.router, prefix=API_PREFIX)
    app.include_router(labroutes.router, prefix=API_PREFIX)
    app.include_router(notebooks.router, prefix=API_PREFIX)
    app.state.metrics = ControlMetrics(store)
    app.include_router(metrics.router)  # /metrics, where Prometheus looks
    app.add_middleware(AuthFailures, metrics=lambda: app.state.metrics)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["health"])
    install_web(app)  # the pages at /, beside the API
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def healthz(store: StoreDep) -> Health:
    """Liveness and database reachability (no token needed)."""
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Health(status="ok", database=store.engine.url.get_backend_name())
