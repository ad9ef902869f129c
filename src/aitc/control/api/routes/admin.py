"""/api/v1 organisations, projects, members and tokens: for admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from aitc.control.api.deps import CallerDep, SessionDep, SettingsDep, after_commit, on_commit
from aitc.control.api.errors import Utf8Route
from aitc.control.api.schemas import (
    MAX_ID,
    LimitsPublic,
    MemberCreate,
    MemberDisable,
    MemberDisabled,
    MemberPublic,
    MembersPublic,
    OrganisationCreate,
    OrganisationPublic,
    OrganisationsPublic,
    ProjectCreate,
    ProjectPublic,
    ProjectsPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
    when,
)
from aitc.control.store.access import require_admin
from aitc.control.store.directory import (
    disable_member,
    enable_member,
    list_members,
    list_organisations,
    list_projects,
    put_member,
    put_organisation,
    put_project,
)
from aitc.control.store.models import ApiTokenRow, OrganisationRow, ProjectRow
from aitc.control.store.tokens import DAY_S, create_token, list_tokens, revoke_token
from aitc.domain.org import Member, Organisation, Project
from aitc.errors import ConfigError, ConflictError

router = APIRouter(tags=["admin"], route_class=Utf8Route)


def _org(o: OrganisationRow) -> OrganisationPublic:
    return OrganisationPublic(
        id=o.id,
        name=o.name,
        kind=o.kind,
        share=o.share,
        quota=o.quota,
        borrow_limit=o.borrow_limit,
        enabled=o.enabled,
    )


def _project(p: ProjectRow) -> ProjectPublic:
    return ProjectPublic(
        id=p.id, name=p.name, organisation=p.org_id, share=p.share, enabled=p.enabled
    )


def _token(t: ApiTokenRow) -> TokenPublic:
    return TokenPublic(
        id=t.id,
        member=t.member_id,
        name=t.name,
        prefix=t.prefix,
        created_at=when(t.created_at),
        revoked_at=when(t.revoked_at),
        expires_at=when(t.expires_at),
        last_used_at=when(t.last_used_at),
    )


@router.get("/organisations", response_model=OrganisationsPublic)
def read_organisations(session: SessionDep, caller: CallerDep) -> OrganisationsPublic:
    require_admin(caller)
    return OrganisationsPublic(data=[_org(o) for o in list_organisations(session=session)])


@router.post(
    "/organisations", response_model=OrganisationPublic, status_code=status.HTTP_201_CREATED
)
def create_organisation(
    body: OrganisationCreate, session: SessionDep, caller: CallerDep
) -> OrganisationPublic:
    require_admin(caller)
    if session.get(OrganisationRow, body.id) is not None:
        raise ConflictError(f"organisation {body.id!r} exists already")
    put_organisation(
        session=session,
        org=Organisation(
            body.id, body.name, body.kind, body.share, (), body.quota, body.borrow_limit
        ),
    )
    session.flush()
    return _org(session.get_one(OrganisationRow, body.id))


@router.get("/projects", response_model=ProjectsPublic)
def read_projects(session: SessionDep, caller: CallerDep) -> ProjectsPublic:
    require_admin(caller)
    return ProjectsPublic(data=[_project(p) for p in list_projects(session=session)])


@router.post("/projects", response_model=ProjectPublic, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, session: SessionDep, caller: CallerDep) -> ProjectPublic:
    require_admin(caller)
    if session.get(ProjectRow, body.id) is not None:
        raise ConflictError(f"project {body.id!r} exists already")
    if session.get(OrganisationRow, body.organisation) is None:
        raise ConfigError(f"unknown organisation {body.organisation!r}", field="organisation")
    put_project(session=session, project=Project(body.id, body.name, body.organisation, body.share))
    session.flush()
    return _project(session.get_one(ProjectRow, body.id))


@router.get("/members", response_model=MembersPublic)
def read_members(session: SessionDep, caller: CallerDep) -> MembersPublic:
    require_admin(caller)
    return MembersPublic(
        data=[
            MemberPublic(
                id=m.id,
                name=m.name,
                email=m.email,
                organisation=m.org_id,
                role=m.role,
                enabled=m.enabled,
                projects=projects,
                limits=LimitsPublic.of(m.limits),
            )
            for m, projects in list_members(session=session)
        ]
    )


@router.post("/members", response_model=MemberPublic, status_code=status.HTTP_201_CREATED)
def create_member(body: MemberCreate, session: SessionDep, caller: CallerDep) -> MemberPublic:
    require_admin(caller)
    if session.get(OrganisationRow, body.organisation) is None:
        raise ConfigError(f"unknown organisation {body.organisation!r}", field="organisation")
    for p in body.projects:
        if session.get(ProjectRow, p) is None:
            raise ConfigError(f"unknown project {p!r}", field="projects")
    member = Member(
        body.id,
        body.name,
        body.email,
        body.organisation,
        body.role,
        tuple(body.projects),
        limits=body.limits.to_domain(),
    )
    if put_member(session=session, member=member) != [f"member {body.id}: created", *_joined(body)]:
        raise ConflictError(f"member {body.id!r} exists already")
    return MemberPublic(
        id=body.id,
        name=body.name,
        email=body.email,
        organisation=body.organisation,
        role=body.role,
        enabled=True,
        projects=sorted(body.projects),
        limits=body.limits,
    )


@router.post("/members/{member_id}/disable", response_model=MemberDisabled)
def disable(
    request: Request,
    member_id: Annotated[str, Path(max_length=64)],
    body: MemberDisable,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> MemberDisabled:
    """Disable a member: their tokens stop working at once and their pending jobs are held
    (reason `member_disabled`); running jobs run on unless `stop_running`."""
    require_admin(caller)
    held, stopping = disable_member(
        session=session,
        member_id=member_id,
        stop_running=body.stop_running,
        by=caller.member_id,
        now=settings.clock.now(),
    )
    on_commit(session, request.app.state.auth_cache.clear)
    after_commit(session, settings)
    return MemberDisabled(id=member_id, enabled=False, pending_held=held, running_stopped=stopping)


@router.post("/members/{member_id}/enable", response_model=MemberDisabled)
def enable(
    member_id: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> MemberDisabled:
    """Enable a member again: their held jobs are scheduled at the controller's next pass."""
    require_admin(caller)
    enable_member(session=session, member_id=member_id)
    after_commit(session, settings)
    return MemberDisabled(id=member_id, enabled=True, pending_held=0, running_stopped=0)


def _joined(body: MemberCreate) -> list[str]:
    return [f"member {body.id}: joined {p}" for p in sorted(set(body.projects))]


@router.get("/tokens", response_model=TokensPublic)
def read_tokens(session: SessionDep, caller: CallerDep) -> TokensPublic:
    """Every token (never its secret)."""
    require_admin(caller)
    return TokensPublic(data=[_token(t) for t in list_tokens(session=session)])


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_api_token(
    body: TokenCreate, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> TokenCreated:
    """A new token for a member, valid `expires_in` seconds (default 90 days). The secret is in
    this response only."""
    require_admin(caller)
    row, secret = create_token(
        session=session,
        member_id=body.member,
        name=body.name,
        now=settings.clock.now(),
        lifetime_s=body.expires_in or settings.token_days * DAY_S,
    )
    return TokenCreated(**_token(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_api_token(
    request: Request,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> TokenPublic:
    """Revoke a token: it stops working at once. The last live token of the enabled admins
    cannot be revoked (409)."""
    require_admin(caller)
    row = revoke_token(session=session, token_id=token_id, now=settings.clock.now())
    on_commit(session, request.app.state.auth_cache.clear)
    return _token(row)
