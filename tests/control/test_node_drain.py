"""An admin drains, downs and resumes nodes (``aitc node drain``): the controller's books follow
the admin's state, which no executor report clears and which survives a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import Api
from controller_rig import Rig

from aitc.control.clock import FakeClock
from aitc.control.executors.base import NodeState
from aitc.control.executors.fake import FakeExecutor
from aitc.control.store import Store
from aitc.control.store.drains import AdminState, node_status, node_statuses, set_admin_state
from aitc.errors import NotFoundError


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    rig = Rig(store, clock, tmp_path, nodes=2)
    rig.step()  # the first inventory records the nodes
    return rig


def admin(rig: Rig, node: str, state: str, reason: str = "") -> None:
    with rig.store.session() as s:
        set_admin_state(
            session=s, node=node, state=state, reason=reason, by="admin", now=rig.clock.now()
        )


def node_of(rig: Rig, job: int) -> str:
    placement = rig.job(job).placement or {}
    (node,) = {a["node"] for a in placement["allocs"]}
    return str(node)


def status(rig: Rig, node: str) -> tuple[str, str, str | None]:
    with rig.store.session() as s:
        st = node_statuses(session=s)[node]
    return st.state, st.reason, st.set_by


def test_a_drained_node_starts_nothing_new_but_its_running_job_runs_on(rig: Rig) -> None:
    running = rig.submit(gpus=8)
    rig.step()
    rig.step()
    drained = node_of(rig, running)
    other = "node1" if drained == "node0" else "node0"
    admin(rig, drained, "drain", "new firmware")
    first, second = rig.submit(gpus=8), rig.submit(gpus=8)
    assert rig.step(10).started == (first,)  # 10 s: the executor's inventory is read again
    assert node_of(rig, first) == other
    assert rig.states(second) == ["pending"]
    assert rig.fake.running() == [(running, 1), (first, 1)]
    assert rig.fake.cancel_calls == []
    assert status(rig, drained) == ("drain", "new firmware", "admin")

    rig.restart()  # the drain is in the store, not only in the books
    rig.fake.finish(running)
    rig.step(10)
    assert rig.states(running)[-1] == "completed"
    assert rig.states(second) == ["pending"]  # the drained node is empty and still drained

    admin(rig, drained, "resume")
    assert rig.step().started == (second,)
    assert node_of(rig, second) == drained
    assert status(rig, drained) == ("up", "", None)


def test_the_executors_reports_never_clear_an_admins_drain(rig: Rig) -> None:
    admin(rig, "node0", "drain", "cable swap")
    rig.fake.set_node_state("node0", NodeState.DOWN, "not responding")
    rig.step(10)
    assert status(rig, "node0") == ("down", "not responding", None)  # the worse one counts
    rig.fake.set_node_state("node0", NodeState.UP)
    rig.step(10)
    assert status(rig, "node0") == ("drain", "cable swap", "admin")
    jobs = [rig.submit(gpus=8), rig.submit(gpus=8)]
    rig.step()
    assert [rig.states(j) for j in jobs] == [["pending", "starting"], ["pending"]]
    assert node_of(rig, jobs[0]) == "node1"


def test_a_node_set_down_has_its_jobs_stopped_and_requeued_elsewhere(rig: Rig) -> None:
    job = rig.submit(gpus=4)
    rig.step()
    rig.step()
    node = node_of(rig, job)
    admin(rig, node, "down", "power supply")
    result = rig.step()
    assert (result.preempted, result.started) == ((job,), (job,))  # at once on the other node
    assert rig.fake.cancel_calls == [(job, 1)]
    assert rig.events(job)[-2] == (
        "pending",
        f"preempted: node {node} set down: power supply; requeued",
    )
    assert rig.states(job)[-1] == "starting"
    assert node_of(rig, job) != node
    assert rig.step().preempted == ()  # requeued once


class Shared(FakeExecutor):
    """An executor whose nodes others use too (as Slurm's): it is told the admins' states."""

    def __init__(self, fake: FakeExecutor) -> None:
        super().__init__(fake.inventory())
        self.told: list[tuple[str, str, str]] = []
        self.refuse = False

    def update_node(self, name: str, state: str, reason: str = "") -> bool:
        if self.refuse:
            raise RuntimeError("slurmctld does not answer")
        self.told.append((name, state, reason))
        return True


def test_the_admins_states_are_passed_on_once_and_a_refusal_is_tried_again(rig: Rig) -> None:
    shared = rig.fake = Shared(rig.fake)
    rig.ctl = rig.new_controller()
    rig.step()
    admin(rig, "node0", "drain", "firmware")
    rig.step()
    rig.step()
    assert shared.told == [("node0", "drain", "firmware")]
    shared.refuse = True
    admin(rig, "node0", "down", "PSU")
    rig.step()  # refused: logged, and the admin's state holds in aitc all the same
    assert status(rig, "node0") == ("down", "PSU", "admin")
    shared.refuse = False
    rig.step(1)
    assert shared.told == [("node0", "drain", "firmware")]  # not before an inventory period
    rig.step(10)
    admin(rig, "node0", "resume")
    rig.step()
    assert shared.told[1:] == [("node0", "down", "PSU"), ("node0", "resume", "")]
    rig.step()
    assert len(shared.told) == 3


def test_a_restarted_controller_passes_the_admins_states_on_again(rig: Rig) -> None:
    shared = rig.fake = Shared(rig.fake)
    rig.ctl = rig.new_controller()
    admin(rig, "node1", "drain", "cables")
    shared.set_node_state("node0", NodeState.DRAIN, "aitc: old")  # an admin's, resumed since
    rig.restart()  # the executor (Slurm) decides whether a node it has out is aitc's to resume
    assert sorted(shared.told) == [("node0", "resume", ""), ("node1", "drain", "cables")]


def test_an_unknown_node_cannot_be_drained(rig: Rig) -> None:
    with pytest.raises(NotFoundError, match="no node 'dgx99'"):
        admin(rig, "dgx99", "drain", "x")


@pytest.mark.parametrize(
    ("reported", "admin_state", "expected"),
    [
        ("up", None, "up"),
        ("up", "drain", "drain"),
        ("drain", "drain", "drain"),
        ("down", "drain", "down"),
        ("drain", "down", "down"),
        ("unknown", "drain", "unknown"),
    ],
)
def test_the_effective_state_is_the_worse_of_the_executors_and_the_admins(
    reported: str, admin_state: str | None, expected: str
) -> None:
    given = AdminState(admin_state, "why", "admin", 0.0) if admin_state else None
    assert node_status(reported, "", given).state == expected


def test_a_drained_node_reads_draining_while_busy_and_drained_once_empty() -> None:
    drained = node_status("up", "", AdminState("drain", "why", "admin", 0.0))
    assert (drained.shown(busy=True), drained.shown(busy=False)) == ("draining", "drained")
    assert node_status("down", "", None).shown(busy=True) == "down"


# -- the API: PATCH /api/v1/nodes/{name} -------------------------------------------------------


def patch(api: Api, member: str, node: str, **body: object) -> httpx.Response:
    return api.client.patch(f"/api/v1/nodes/{node}", json=body, headers=api.auth(member))


def test_an_admin_drains_and_resumes_a_node_and_everyone_sees_why(api: Api) -> None:
    api.clock.advance(60)
    r = patch(api, "admin", "n1", state="drain", reason="new firmware")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "drained"  # nothing runs on it
    assert (r.json()["reason"], r.json()["reason_by"]) == ("new firmware", "admin")
    assert r.json()["reason_at"] is not None
    assert api.wakes == 1
    seen = api.client.get("/api/v1/nodes", headers=api.auth("alice")).json()["data"]
    assert [(n["name"], n["state"], n["reason"]) for n in seen] == [
        ("n1", "drained", "new firmware"),
        ("n2", "up", ""),
    ]
    r = patch(api, "admin", "n1", state="resume")
    assert (r.status_code, r.json()["state"], r.json()["reason_by"]) == (200, "up", None)


def test_a_drained_node_with_a_job_on_it_is_draining(api: Api) -> None:
    from aitc.control.store import JobRow, transition
    from aitc.domain.job import JobState, NodeAlloc, Placement

    job = api.submit("alice", gpus=2)
    with api.store.session() as s:
        row = s.get(JobRow, job["id"])
        assert row is not None
        placement = Placement((NodeAlloc("n1", (0, 1)),))
        transition(session=s, job=row, to=JobState.STARTING, cause="t", now=0, placement=placement)
    r = patch(api, "admin", "n1", state="drain", reason="fan")
    assert (r.json()["state"], r.json()["gpus_busy"]) == ("draining", 2)


def test_a_node_set_down_says_down(api: Api) -> None:
    r = patch(api, "admin", "n2", state="down", reason="power supply")
    assert (r.json()["state"], r.json()["reason"]) == ("down", "power supply")


def test_only_admins_drain_nodes(api: Api) -> None:
    r = patch(api, "alice", "n1", state="drain", reason="mine")
    assert r.status_code == 403
    seen = api.client.get("/api/v1/nodes", headers=api.auth("alice")).json()["data"]
    assert seen[0]["state"] == "up"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "drain"}, "reason"),
        ({"state": "down", "reason": "  "}, "reason"),
        ({"state": "idle", "reason": "x"}, "state"),
        ({"reason": "x"}, "state"),
    ],
)
def test_a_bad_node_update_is_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    r = patch(api, "admin", "n1", **body)
    assert r.status_code == 422, r.text
    assert [d["loc"][-1] for d in r.json()["detail"]] == [field]


def test_an_unknown_node_is_404(api: Api) -> None:
    r = patch(api, "admin", "dgx99", state="drain", reason="x")
    assert r.status_code == 404
    assert "dgx99" in r.json()["detail"]
