"""``GET /api/v1/shares``: the fair-share tree as the scheduler sees it (Slurm's sshare), checked
against levels worked out by hand, the controller's own order, and the scoping rules."""

from __future__ import annotations

import dataclasses
import math

import pytest
from conftest import Api
from sqlalchemy import update

from aitc.control.feed import StoreBooks
from aitc.control.store import JobRow
from aitc.domain.cluster import Cluster
from aitc.domain.lab import PolicySpec
from aitc.engine.policies.fairshare import FairShare

HOUR = 3600.0
# no decay to speak of: the usage is the GPU-hours themselves
POLICY = PolicySpec("fairshare", {"half_life_s": 1e15})
# who ran what for one hour before now (GPUs), and who waits
RAN = {"alice": ("vision", 4), "bob": ("nlp", 2), "pat": ("health", 2)}
WAITING = {"quinn": "energy", "dave": "course"}


@pytest.fixture
def shared(api: Api) -> Api:
    api.app.state.settings = dataclasses.replace(api.app.state.settings, policy=POLICY)
    api.clock.advance(10 * HOUR)
    now = api.clock.now()
    for member, (project, gpus) in RAN.items():
        job = int(api.submit(member, project=project, gpus=gpus)["id"])  # type: ignore[call-overload]
        with api.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job)
                .values(state="completed", started_at=now - 2 * HOUR, ended_at=now - HOUR)
            )
    for member, project in WAITING.items():
        api.submit(member, project=project)
    return api


def _tree(api: Api, viewer: str) -> dict[str, object]:
    r = api.client.get("/api/v1/shares", headers=api.auth(viewer))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _name(row: dict[str, object]) -> str:
    return str(row["member"] or row["project"] or row["organisation"])


def test_the_tree_has_the_levels_and_ranks_of_the_fair_tree_worked_by_hand(shared: Api) -> None:
    tree = _tree(shared, "admin")
    assert (tree["policy"], tree["orders_queue"], tree["members"]) == ("fairshare", True, 5)
    rows = {_name(r): r for r in tree["data"]}  # type: ignore[attr-defined]
    # organisations: shares 2 (uni), 1, 1, 1 of 5; usage 6 (uni: 4 + 2) and 2 (acme) of 8
    # GPU-hours; level = share fraction / usage fraction, infinite (null) without usage
    want = {"uni": (0.4, 0.75, 0.4 / 0.75), "acme": (0.2, 0.25, 0.8)}
    want |= {"globex": (0.2, 0.0, None), "school": (0.2, 0.0, None)}
    for org, (share, use, level) in want.items():
        row = rows[org]
        assert row["norm_share"] == pytest.approx(share) and row["norm_usage"] == pytest.approx(use)
        assert row["level"] is None if level is None else row["level"] == pytest.approx(level)
    assert rows["uni"]["usage_gpu_hours"] == pytest.approx(6.0, rel=1e-6)
    # uni's projects weigh the same: nlp used 2 of 6, vision 4 of 6
    assert rows["nlp"]["level"] == pytest.approx(0.5 / (2 / 6))
    assert rows["vision"]["level"] == pytest.approx(0.5 / (4 / 6))
    # the walk: unused organisations first (ties by name), then acme, then uni's nlp, vision
    order = [_name(r) for r in tree["data"]]  # type: ignore[attr-defined]
    assert order == [
        "globex", "energy", "quinn",
        "school", "course", "dave",
        "acme", "health", "pat",
        "uni", "nlp", "bob", "vision", "alice",
    ]  # fmt: skip
    assert [rows[m]["rank"] for m in ("quinn", "dave", "pat", "bob", "alice")] == [1, 2, 3, 4, 5]
    assert rows["quinn"]["pending_jobs"] == 1 and rows["globex"]["pending_jobs"] == 1
    assert rows["alice"]["pending_jobs"] == 0 and rows["uni"]["rank"] is None


def test_the_members_rank_in_the_order_the_controllers_policy_tries_them(shared: Api) -> None:
    """The same runs and the same walk: the controller's books, rebuilt from the store as at
    start-up, give the fairshare policy the same member order as the tree."""
    tree = _tree(shared, "admin")
    ranked = [
        (r["organisation"], r["project"], r["member"])
        for r in sorted(
            (r for r in tree["data"] if r["member"]),  # type: ignore[attr-defined]
            key=lambda r: r["rank"],
        )
    ]
    books = StoreBooks(Cluster("rig", ()), POLICY.params["half_life_s"])  # type: ignore[arg-type]
    now = shared.clock.now()
    with shared.store.session() as s:
        books.rebuild(s, since=now - 10 * 1e15)
    from aitc.control.snapshot import load_organisations

    with shared.store.session() as s:
        orgs = load_organisations(s)
    view = books.books.view(now, organisations=orgs, reservations=())
    policy = FairShare({}, orgs)
    order = [(j.org, j.project, j.member) for j in policy.order(view, view.pending)]
    assert order == [k for k in ranked if k[2] in WAITING]


SEES_MEMBERS = {
    "admin": {"alice", "bob", "pat", "quinn", "dave"},
    "alice": {"alice"},
    "erin": {"alice"},  # same project
    "bob": {"bob"},
    "carol": {"alice", "bob"},  # instructor: her organisation
    "dave": {"dave"},
    "pia": {"pat"},  # a partner in vision too, but never sees another organisation's
    "quinn": {"quinn"},
}


@pytest.mark.parametrize("viewer", sorted(SEES_MEMBERS))
def test_every_organisation_is_shown_but_projects_and_members_only_to_who_sees_their_jobs(
    shared: Api, viewer: str
) -> None:
    data = _tree(shared, viewer)["data"]
    orgs = {r["organisation"] for r in data if r["project"] is None}  # type: ignore[attr-defined]
    members = {r["member"] for r in data if r["member"]}  # type: ignore[attr-defined]
    projects = {r["project"] for r in data if r["project"] and not r["member"]}  # type: ignore[attr-defined]
    assert orgs == {"uni", "acme", "globex", "school"}
    assert members == SEES_MEMBERS[viewer]
    owners = {m: p for m, (p, _) in RAN.items()} | WAITING
    assert projects == {owners[m] for m in members}


def test_under_another_policy_the_tree_is_shown_but_does_not_order_the_queue(api: Api) -> None:
    api.app.state.settings = dataclasses.replace(
        api.app.state.settings, policy=PolicySpec("fifo", {})
    )
    api.submit("alice", project="vision")
    tree = _tree(api, "alice")
    assert (tree["policy"], tree["orders_queue"], tree["members"]) == ("fifo", False, 1)
    (mine,) = [r for r in tree["data"] if r["member"]]  # type: ignore[attr-defined]
    assert mine["member"] == "alice" and mine["level"] is None and mine["rank"] == 1
    assert math.isclose(tree["half_life_s"], 7 * 86400)  # type: ignore[arg-type]
