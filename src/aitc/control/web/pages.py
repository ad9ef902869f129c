"""Pages: sign-in and sign-out, the overview, the queue, the cluster map and the fair share.

Each page reads through the store's functions that the API's routes call (``list_jobs``,
``authenticate``, ...) with the signed-in member as the caller, so a page shows exactly what
the API would show that member.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from aitc.control.api.schemas import JobPublic
from aitc.control.shares import shares
from aitc.control.store.jobs import JobFilters, list_jobs
from aitc.control.store.tokens import TokenExpiredError, authenticate
from aitc.control.web.figures import figures_of
from aitc.control.web.render import HEADERS, WebRoute, form, now, set_cookie, visit
from aitc.control.web.session import SESSION_S, WebSession
from aitc.control.web.usage import chart, share_vs_entitlement, usage_days
from aitc.control.web.views import HOLDING, cluster_map
from aitc.domain.job import JobState

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE_SIZE = 50
STATES: dict[str, tuple[JobState, ...]] = {
    "active": (JobState.PENDING, *HOLDING),
    "pending": (JobState.PENDING,),
    "running": HOLDING,
    "ended": tuple(s for s in JobState if s.terminal),
    "all": (),
}
Filter = Annotated[str | None, Query(max_length=64)]
Cursor = Annotated[int | None, Query(ge=0, le=2**31)]


def safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//host`` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/signin")
def signin_page(request: Request, next: Filter = None) -> Response:
    with visit(request) as v:
        return v.render("signin.html", next=safe_next(next), error=None)


@router.post("/signin")
async def signin(request: Request) -> Response:
    fields = await form(request)
    target = safe_next(fields.get("next"))
    secret = fields.get("token", "").strip()
    with visit(request) as v:
        error = "That token is not valid: check it, or ask an admin for a new one."
        owner = None
        try:
            owner = authenticate(session=v.session, secret=secret, now=now(request))
        except TokenExpiredError as exc:
            error = str(exc)
        if owner is None:
            return v.render("signin.html", 401, next=target, error=error)
        ends = now(request) + SESSION_S
        if owner.expires_at is not None:
            ends = min(ends, owner.expires_at)
        web = v.web.signed_in(owner.token_id, owner.caller.member_id, ends)
    response = RedirectResponse(target, 303, headers=HEADERS)
    set_cookie(request, response, web)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    await form(request)
    response = RedirectResponse("/signin", 303, headers=HEADERS)
    set_cookie(request, response, WebSession.anonymous())
    return response


@router.get("/")
def overview(request: Request) -> Response:
    with visit(request) as v:
        me = v.me
        cmap = cluster_map(session=v.session, caller=me)

        def count(states: tuple[JobState, ...]) -> int:
            filters = JobFilters(states=states, limit=1)
            return list_jobs(session=v.session, caller=me, filters=filters)[1]

        mine = JobFilters(states=STATES["active"], member=me.member_id, oldest_first=True)
        rows, total = list_jobs(session=v.session, caller=me, filters=mine)
        figures = figures_of(request.app)
        days = usage_days(figures, now(request))
        fairness = share_vs_entitlement(figures)
        return v.render(
            "overview.html",
            cmap=cmap,
            pending=count(STATES["pending"]),
            running=count(STATES["running"]),
            mine=[JobPublic.of(j, me) for j in rows],
            mine_total=total,
            days=days,
            chart=chart(days, cmap.colours, cmap.org_names) if days else None,
            fairness=fairness.value if fairness is not None else None,
            refresh=5,
        )


@router.get("/queue")
def queue(
    request: Request,
    state: Filter = "active",
    project: Filter = None,
    member: Filter = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    after: Cursor = None,
    before: Cursor = None,
) -> Response:
    """The queue, 50 jobs a page. The pager's links carry the first or last job of the page
    (``before``/``after``), so the next page costs the same however deep it is; a page asked
    for by number alone is counted from the start."""
    with visit(request) as v:
        me = v.me
        state = state if state in STATES else "active"
        cursor = after is not None or before is not None
        filters = JobFilters(
            states=STATES[state],
            project=project or None,
            member=member or None,
            limit=PAGE_SIZE,
            offset=0 if cursor else (page - 1) * PAGE_SIZE,
            oldest_first=state in ("active", "pending", "running"),
            after_id=after,
            before_id=None if after is not None else before,
        )
        rows, total = list_jobs(session=v.session, caller=me, filters=filters)
        pages = max(1, -(-total // PAGE_SIZE))
        if cursor and not rows:  # the jobs around the cursor are gone: start again
            rows, _ = list_jobs(
                session=v.session,
                caller=me,
                filters=replace(filters, after_id=None, before_id=None),
            )
            page = 1
        return v.render(
            "queue.html",
            jobs=[JobPublic.of(j, me) for j in rows],
            total=total,
            page=page,
            pages=pages,
            state=state,
            states=list(STATES),
            project=project or "",
            member=member or "",
            projects=sorted(me.projects),
            refresh=5,
        )


@router.get("/map")
def map_page(request: Request) -> Response:
    with visit(request) as v:
        cmap = cluster_map(session=v.session, caller=v.me)
        return v.render("map.html", cmap=cmap, refresh=5)


@router.get("/share")
def share_page(request: Request) -> Response:
    """The fair-share tree as the scheduler sees it now (``aitc share``)."""
    with visit(request) as v:
        tree = shares(v.session, v.me, request.app.state.settings.policy, now(request))
        return v.render("share.html", tree=tree)
