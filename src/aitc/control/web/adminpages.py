"""The admins' pages: members (disable, enable), tokens (issue, revoke), the organisations'
quotas and shares as the last ``aitc lab apply`` stored them, reservations (create,
delete) and nodes (drain, down, resume).

Each page and form is for admins only (``require_admin``, as the API's admin routes) and does
what the API does with the store's same functions: ``disable_member``, ``create_token``,
``revoke_token``, ``create_reservation``, ``set_admin_state``, ... A refusal (the last admin, a
reservation the engine cannot guarantee, a drain without a reason) is shown on the page,
beside the field it names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from aitc.control.api.deps import notify
from aitc.control.api.schemas import ReservationCreate
from aitc.control.api.settings import Settings
from aitc.control.report.period import parse_time
from aitc.control.store.access import require_admin
from aitc.control.store.directory import (
    count_members,
    disable_member,
    enable_member,
    list_members,
    list_organisations,
    list_projects,
)
from aitc.control.store.drains import set_admin_state
from aitc.control.store.labsync import last_apply
from aitc.control.store.reservations import (
    create_reservation,
    delete_reservation,
    reservation_page,
)
from aitc.control.store.tokens import DAY_S, count_tokens, create_token, list_tokens, revoke_token
from aitc.control.web.paging import PageNumber, Paging
from aitc.control.web.render import HEADERS, Visit, WebRoute, form, now, visit
from aitc.control.web.views import cluster_map
from aitc.domain.reservation import Reservation
from aitc.errors import ConfigError, ConflictError, NotFoundError

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Search = Annotated[str, Query(max_length=64)]
NOTICES = {
    "disabled": "Member {id} disabled: their tokens stopped working, their pending jobs are held.",
    "enabled": "Member {id} enabled again.",
    "revoked": "Token {id} revoked: it stopped working.",
    "reserved": "Reservation {id} made.",
    "deleted": "Reservation {id} deleted: its nodes are free at the next scheduling pass.",
    "drain": "Node {id} drained: nothing new starts on it; its running jobs finish.",
    "down": "Node {id} set down: its running jobs are requeued at the next scheduling pass.",
    "resume": "Node {id} resumed: jobs start on it again from the next scheduling pass.",
}
RESERVATION_FIELDS = (
    "id",
    "org",
    "name",
    "start",
    "end",
    "gpus",
    "nodes",
    "mig_profile",
    "mig_seats",
)


def _admin(v: Visit) -> Visit:
    require_admin(v.me)
    return v


def _done(path: str, notice: str, ident: object) -> Response:
    query = urlencode({"done": notice, "id": str(ident)})
    return RedirectResponse(f"{path}?{query}", 303, headers=HEADERS)


def _notice(done: str | None, ident: str | None) -> str:
    return NOTICES[done].format(id=ident or "") if done in NOTICES else ""


@router.get("/admin")
def admin_home(request: Request) -> Response:
    with visit(request) as v:
        _admin(v)
    return RedirectResponse("/admin/members", 303, headers=HEADERS)


@router.get("/admin/members")
def members_page(
    request: Request,
    q: Search = "",
    page: PageNumber = 1,
    done: Search | None = None,
    id: Search | None = None,
) -> Response:
    with visit(request) as v:
        _admin(v)
        paging = Paging(page, count_members(session=v.session, search=q), query=(("q", q),))
        rows = list_members(session=v.session, search=q, limit=paging.size, offset=paging.offset)
        return v.render(
            "admin_members.html", members=rows, q=q, paging=paging, notice=_notice(done, id)
        )


@router.post("/admin/members/{member_id}/{action}")
async def member_action(request: Request, member_id: str, action: str) -> Response:
    fields = await form(request)
    if action not in ("disable", "enable"):
        raise NotFoundError(f"no action {action!r}")
    settings: Settings = request.app.state.settings
    try:
        with visit(request, write=True) as v:
            me = _admin(v).me
            if action == "disable":
                disable_member(
                    session=v.session, member_id=member_id, by=me.member_id, now=now(request),
                    stop_running=fields.get("stop_running") == "yes",
                )  # fmt: skip
            else:
                enable_member(session=v.session, member_id=member_id)
    except ConflictError as exc:  # rolled back; the page says why
        with visit(request) as v:
            return _members_refused(v, str(exc))
    request.app.state.auth_cache.clear()  # the member's tokens stop (or start) working now
    notify(settings)
    return _done("/admin/members", f"{action}d", member_id)


def _members_refused(v: Visit, message: str) -> Response:
    paging = Paging(1, count_members(session=v.session))
    rows = list_members(session=v.session, limit=paging.size)
    return v.render(
        "admin_members.html", 409, members=rows, q="", paging=paging, notice="", error=message
    )


@router.get("/admin/tokens")
def tokens_page(
    request: Request,
    member: Search = "",
    page: PageNumber = 1,
    done: Search | None = None,
    id: Search | None = None,
) -> Response:
    with visit(request) as v:
        return _tokens(_admin(v), member, page, notice=_notice(done, id))


def _tokens(v: Visit, member: str, page: int, status: int = 200, **extra: Any) -> Response:
    who = member or None
    paging = Paging(
        page, count_tokens(session=v.session, member_id=who), query=(("member", member),)
    )
    rows = list_tokens(
        session=v.session, member_id=who, limit=paging.size, offset=paging.offset,
        newest_first=True,
    )  # fmt: skip
    values = extra.pop("values", {"member": member, "days": ""})
    return v.render(
        "admin_tokens.html", status, tokens=rows, member=member, paging=paging,
        now=now(v.request), values=values, **extra,
    )  # fmt: skip


@router.post("/admin/tokens")
async def issue_token(request: Request) -> Response:
    fields = await form(request)
    values = {k: fields.get(k, "").strip() for k in ("member", "name", "days")}
    settings: Settings = request.app.state.settings
    with visit(request, write=True) as v:
        _admin(v)
        errors: dict[str, str] = {}
        lifetime = _lifetime(values["days"], settings, errors)
        if not values["member"]:
            errors["member"] = "required: the member the token acts as"
        if not errors:
            try:
                row, secret = create_token(
                    session=v.session, member_id=values["member"], name=values["name"][:100],
                    now=now(request), lifetime_s=lifetime,
                )  # fmt: skip
            except NotFoundError as exc:
                errors["member"] = str(exc)
        if errors:
            return _tokens(v, "", 1, 422, values=values, errors=errors)
        return _tokens(v, "", 1, 201, values=values, issued=(row.id, row.member_id, secret))


def _lifetime(days: str, settings: Settings, errors: dict[str, str]) -> float:
    if not days:
        return settings.token_days * DAY_S
    try:
        value = float(days)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3660:
        errors["days"] = "must be a number of days above 0 and at most 3660"
    return value * DAY_S


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke(request: Request, token_id: str) -> Response:
    await form(request)
    if not token_id.isdigit() or not 0 < int(token_id) < 2**31:
        raise NotFoundError(f"no token {token_id!r}")
    try:
        with visit(request, write=True) as v:
            _admin(v)
            revoke_token(session=v.session, token_id=int(token_id), now=now(request))
    except ConflictError as exc:
        with visit(request) as v:
            return _tokens(v, "", 1, 409, error=str(exc))
    request.app.state.auth_cache.clear()
    return _done("/admin/tokens", "revoked", int(token_id))


@router.get("/admin/organisations")
def organisations_page(request: Request) -> Response:
    with visit(request) as v:
        _admin(v)
        orgs = list_organisations(session=v.session)
        projects = list_projects(session=v.session)
        total = sum(o.share for o in orgs if o.enabled) or 1.0
        return v.render(
            "admin_organisations.html", orgs=orgs, total_share=total,
            projects={o.id: [p for p in projects if p.org_id == o.id] for o in orgs},
            applied=last_apply(session=v.session),
        )  # fmt: skip


@router.get("/admin/reservations")
def reservations_page(
    request: Request,
    ended: Search = "",
    page: PageNumber = 1,
    done: Search | None = None,
    id: Search | None = None,
) -> Response:
    with visit(request) as v:
        return _reservations(_admin(v), ended == "yes", page, notice=_notice(done, id))


def _reservations(v: Visit, ended: bool, page: int, status: int = 200, **extra: Any) -> Response:
    since = None if ended else now(v.request)
    _, total = reservation_page(session=v.session, now=since, limit=1)
    paging = Paging(page, total, query=(("ended", "yes" if ended else ""),))
    rows, _ = reservation_page(
        session=v.session, now=since, limit=paging.size, offset=paging.offset
    )
    orgs = [o for o in list_organisations(session=v.session) if o.enabled]
    return v.render(
        "admin_reservations.html", status, reservations=rows, paging=paging, ended=ended,
        orgs=orgs, values=extra.pop("values", {"org": ""}), errors=extra.pop("errors", {}),
        **extra,
    )  # fmt: skip


@router.post("/admin/reservations")
async def reserve(request: Request) -> Response:
    fields = await form(request)
    values = {k: fields.get(k, "").strip() for k in RESERVATION_FIELDS}
    settings: Settings = request.app.state.settings
    errors: dict[str, str] = {}
    wanted, made = _reservation(values, errors), ""
    if wanted is not None:
        try:
            with visit(request, write=True) as v:
                _admin(v)
                made = create_reservation(
                    session=v.session, reservation=wanted, now=now(request)
                ).id
        except ConfigError as exc:  # rolled back; shown beside its field
            errors[exc.field if exc.field in RESERVATION_FIELDS else "_form"] = exc.reason
        except ConflictError as exc:
            errors["id"] = str(exc)
    if errors:
        with visit(request) as v:
            return _reservations(_admin(v), False, 1, 422, values=values, errors=errors)
    notify(settings)
    return _done("/admin/reservations", "reserved", made)


def _reservation(values: dict[str, str], errors: dict[str, str]) -> Reservation | None:
    """The reservation the form stands for, validated by the API's ``ReservationCreate``
    (its messages by field in ``errors``); times without an offset are UTC, as the pages
    show them."""
    body: dict[str, Any] = {k: values[k] for k in ("org", "name", "mig_profile") if values[k]}
    body["nodes"] = [n for n in values["nodes"].replace(",", " ").split() if n]
    if values["id"]:
        body["id"] = values["id"]
    for key in ("gpus", "mig_seats"):
        try:
            body[key] = int(values[key] or 0)
        except ValueError:
            errors[key] = "must be a whole number"
    for key in ("start", "end"):
        try:
            body[key] = datetime.fromtimestamp(parse_time(values[key], key), UTC)
        except ConfigError as exc:
            errors[key] = exc.reason
    if errors:
        return None
    try:
        return ReservationCreate.model_validate(body).to_domain()
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "_form"
            errors.setdefault(field if field in RESERVATION_FIELDS else "_form", str(err["msg"]))
    return None


@router.post("/admin/reservations/{reservation_id}/delete")
async def unreserve(request: Request, reservation_id: str) -> Response:
    await form(request)
    settings: Settings = request.app.state.settings
    try:
        with visit(request, write=True) as v:
            _admin(v)
            delete_reservation(session=v.session, reservation_id=reservation_id[:64])
    except ConflictError as exc:
        with visit(request) as v:
            return _reservations(v, False, 1, 409, error=str(exc))
    notify(settings)
    return _done("/admin/reservations", "deleted", reservation_id[:64])


@router.get("/admin/nodes")
def nodes_page(request: Request, done: Search | None = None, id: Search | None = None) -> Response:
    with visit(request) as v:
        return _nodes(_admin(v), notice=_notice(done, id))


def _nodes(v: Visit, status: int = 200, **extra: Any) -> Response:
    cmap = cluster_map(session=v.session, caller=v.me)
    return v.render(
        "admin_nodes.html", status, nodes=cmap.nodes, errors=extra.pop("errors", {}), **extra
    )


@router.post("/admin/nodes/{name}/{action}")
async def node_action(request: Request, name: str, action: str) -> Response:
    """Drain, down or resume a node, as ``PATCH /api/v1/nodes/{name}`` does."""
    fields = await form(request)
    if action not in ("drain", "down", "resume"):
        raise NotFoundError(f"no action {action!r}")
    reason = fields.get("reason", "").strip()[:1000]
    if action != "resume" and not reason:
        with visit(request) as v:
            _admin(v)
            error = f"say why the node is set {action} (as Slurm asks)"
            return _nodes(v, 422, errors={name[:128]: error})
    with visit(request, write=True) as v:
        me = _admin(v).me
        set_admin_state(
            session=v.session, node=name[:128], state=action, reason=reason,
            by=me.member_id, now=now(request),
        )  # fmt: skip
    notify(request.app.state.settings)
    return _done("/admin/nodes", action, name[:128])
