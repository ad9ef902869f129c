"""Reservations through the API: admins create, list and delete them; the engine is asked
before one is stored (refused with its reason, nothing stored); the controller honours a
new one at its next pass and frees the nodes of a deleted one; a course session's
reservation goes only with its session."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from controller_rig import Rig
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aitc.control.api import Settings, create_app
from aitc.control.clock import FakeClock
from aitc.control.store import ReservationRow, Store
from aitc.control.store.models import CourseSessionRow
from aitc.control.store.tokens import bootstrap_admin

HOUR = 3600.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def body(clock: FakeClock, **extra: Any) -> dict[str, Any]:
    start = clock.now() + HOUR
    return {"org": "acme", "start": iso(start), "end": iso(start + 2 * HOUR), **extra}


def post(api: Api, member: str, data: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/reservations", json=data, headers=api.auth(member))


def stored(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(ReservationRow.id))) or 0


def test_an_admin_creates_lists_and_deletes_a_reservation(api: Api) -> None:
    made = post(api, "admin", body(api.clock, id="acme-run", name="contract", gpus=8))
    assert made.status_code == 201, made.text
    assert made.json() | {"start": None, "end": None} == {
        "id": "acme-run", "org": "acme", "name": "contract", "start": None, "end": None,
        "gpus": 8, "nodes": [], "mig_profile": None, "mig_seats": 0, "course_session": None,
    }  # fmt: skip
    listed = api.client.get("/api/v1/reservations", headers=api.auth("admin")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == "acme-run"
    gone = api.client.delete("/api/v1/reservations/acme-run", headers=api.auth("admin"))
    assert gone.status_code == 200 and gone.json()["id"] == "acme-run"
    assert stored(api.store) == 0
    again = api.client.delete("/api/v1/reservations/acme-run", headers=api.auth("admin"))
    assert again.status_code == 404


def test_without_an_id_the_server_draws_one_and_mig_seats_are_reserved(api: Api) -> None:
    made = post(api, "admin", body(api.clock, mig_profile="1g.10gb", mig_seats=14))
    assert made.status_code == 201, made.text
    assert made.json()["id"].startswith("res-") and made.json()["mig_seats"] == 14


def test_only_admins_may_see_or_touch_reservations(api: Api) -> None:
    assert post(api, "alice", body(api.clock, gpus=8)).status_code == 403
    assert post(api, "carol", body(api.clock, gpus=8)).status_code == 403
    assert api.client.get("/api/v1/reservations", headers=api.auth("pat")).status_code == 403
    assert stored(api.store) == 0


def test_what_the_engine_cannot_guarantee_is_refused_with_its_reason(api: Api) -> None:
    too_big = post(api, "admin", body(api.clock, gpus=17))
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["body", "gpus"]
    assert "can never be guaranteed" in too_big.text and "needs 17 GPUs but only 16" in too_big.text
    assert post(api, "admin", body(api.clock, gpus=16)).status_code == 201
    overlap = post(api, "admin", body(api.clock, org="globex", gpus=1))
    assert overlap.status_code == 422 and "not held by overlapping reservations" in overlap.text
    assert stored(api.store) == 1


def test_bad_requests_name_their_field(api: Api) -> None:
    clock = api.clock
    cases = [
        (body(clock, gpus=8, end=iso(clock.now())), "end", "must be after the start"),
        (body(clock, gpus=0), "gpus", "give whole GPUs (gpus) or MIG seats"),
        (body(clock, gpus=8, mig_profile="1g.10gb", mig_seats=7), "gpus", "one of them"),
        (body(clock, mig_seats=7), "mig_profile", "need a MIG profile"),
        (body(clock, gpus=8, org="nobody"), "org", "unknown organisation 'nobody'"),
        (body(clock, gpus=8, nodes=["n9"]), "nodes", "unknown node 'n9'"),
        (body(clock, gpus=9, nodes=["n1"]), "nodes", "have 8 GPUs, fewer than the 9"),
        (body(clock, mig_profile="9g.1gb", mig_seats=1), "mig_seats", "no GPU in the cluster"),
        (body(clock, gpus="8"), "gpus", "valid integer"),
    ]
    for data, field, words in cases:
        r = post(api, "admin", data)
        assert r.status_code == 422, (data, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field and words in r.text, r.text
    past = body(clock, gpus=8, start=iso(clock.now() - 3 * HOUR), end=iso(clock.now() - HOUR))
    assert "must be in the future" in post(api, "admin", past).text
    assert post(api, "admin", body(clock, id="x", gpus=1)).status_code == 201
    assert post(api, "admin", body(clock, id="x", gpus=1)).status_code == 409
    assert stored(api.store) == 1


def test_ended_reservations_are_listed_only_when_asked(api: Api) -> None:
    assert post(api, "admin", body(api.clock, id="soon", gpus=8)).status_code == 201
    api.clock.advance(4 * HOUR)
    auth = api.auth("admin")
    assert api.client.get("/api/v1/reservations", headers=auth).json()["count"] == 0
    every = api.client.get("/api/v1/reservations", params={"ended": "true"}, headers=auth)
    assert [r["id"] for r in every.json()["data"]] == ["soon"]


def test_a_course_sessions_reservation_goes_only_with_its_session(api: Api) -> None:
    admin = api.auth("admin")
    course = {
        "id": "intro",
        "title": "Intro",
        "org": "school",
        "seats": 7,
        "mig_profile": "1g.10gb",
    }
    assert api.client.post("/api/v1/courses", json=course, headers=admin).status_code == 201
    certify = api.client.post(
        "/api/v1/courses/intro/instructors", json={"member": "carol"}, headers=admin
    )
    assert certify.status_code == 200
    start = api.clock.now() + 24 * HOUR
    made = api.client.post(
        "/api/v1/course-sessions",
        json={"course": "intro", "start": iso(start), "end": iso(start + HOUR)},
        headers=api.auth("carol"),
    )
    assert made.status_code == 201, made.text
    rid, sid = made.json()["reservation"], made.json()["id"]
    shown = api.client.get(f"/api/v1/reservations/{rid}", headers=admin).json()
    assert shown["course_session"] == sid
    refused = api.client.delete(f"/api/v1/reservations/{rid}", headers=admin)
    assert refused.status_code == 409 and f"course session {sid}" in refused.text
    with api.store.session() as s:
        assert s.scalar(select(func.count(CourseSessionRow.id))) == 1
    assert stored(api.store) == 1


def test_the_controller_honours_a_new_reservation_and_frees_a_deleted_ones_nodes(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    rig = Rig(store, clock, tmp_path, nodes=2)
    rig.step()  # the controller records its nodes
    with store.session() as s:
        token = bootstrap_admin(session=s, now=clock.now())
    client = TestClient(create_app(Settings(store=store, clock=clock)))
    auth = {"Authorization": f"Bearer {token}"}
    res = {**body(clock, org="acme", gpus=8, nodes=["node1"]), "start": iso(clock.now())}
    assert client.post("/api/v1/reservations", json=res, headers=auth).status_code == 201
    first, second = rig.submit(gpus=8), rig.submit(gpus=8)
    rig.step()
    rig.step()  # reasons are written once the books are quiet
    assert rig.job(first).state in ("starting", "running") and rig.job(second).state == "pending"
    assert rig.job(first).placement["allocs"][0]["node"] == "node0"  # type: ignore[index]
    reasons = rig.job(second).pending_reasons or []
    assert any("reservation" in r["message"] for r in reasons), reasons
    rid = client.get("/api/v1/reservations", headers=auth).json()["data"][0]["id"]
    assert client.delete(f"/api/v1/reservations/{rid}", headers=auth).status_code == 200
    rig.step()
    assert rig.job(second).state in ("starting", "running")


@pytest.fixture
def far_east() -> Iterator[None]:
    """The process in another time zone than UTC (naive times would be read as Tokyo's)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_time_without_an_offset_is_utc(api: Api, far_east: None) -> None:
    start = api.clock.now() + 2 * HOUR
    naive = datetime.fromtimestamp(start, UTC).replace(tzinfo=None).isoformat()
    made = post(api, "admin", body(api.clock, gpus=8, start=naive, end=iso(start + HOUR)))
    assert made.status_code == 201, made.text
    assert datetime.fromisoformat(made.json()["start"]).timestamp() == start
