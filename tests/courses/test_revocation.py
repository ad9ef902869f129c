"""Revocation through the API: each credential names its bit in a status list the server
publishes signed; revoking sets it; the server's verification says which check failed."""

from __future__ import annotations

from typing import Any

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from sqlalchemy import update

from aitc.control.courses import statuslist
from aitc.control.courses.credentials import iso, verify
from aitc.control.store.models import CertificateRow, EnrolmentRow


def passed(api: CourseApi, *learners: str) -> list[dict[str, Any]]:
    """Credentials of ``learners``, who passed a session of course ``intro``."""
    make_course(api)
    sid = api.ok("carol", "POST", "/course-sessions", session_body(api, seats=4))["id"]
    api.ok("carol", "POST", f"/course-sessions/{sid}/roster", {"members": list(learners)})
    api.clock.advance(2 * DAY + 3600)
    for member in learners:
        body = {"member": member, "result": "passed"}
        api.ok("carol", "POST", f"/course-sessions/{sid}/results", body)
    issued = api.ok("carol", "POST", f"/course-sessions/{sid}/certificates")["data"]
    with api.store.session() as s:
        owner = {str(e.id): e.member_id for e in s.query(EnrolmentRow)}
    by_member = {owner[c["credentialStatus"]["statusListIndex"]]: c for c in issued}
    return [by_member[m] for m in learners]


def anonymous(api: CourseApi, path: str) -> Any:
    r = api.client.get(f"/api/v1{path}")
    assert r.status_code == 200, r.text
    return r.json()


def test_each_credential_names_its_bit_in_a_list_the_server_signs(course_api: CourseApi) -> None:
    alice, bob = passed(course_api, "alice", "bob")
    with course_api.store.session() as s:
        enrolments = {e.member_id: e.id for e in s.query(EnrolmentRow)}
    status = alice["credentialStatus"]
    assert status["statusListCredential"] == "http://testserver/api/v1/credentials/status/1"
    assert status["statusListIndex"] == str(enrolments["alice"])
    listed = anonymous(course_api, "/credentials/status/1")  # no token needed
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["issuer"] == alice["issuer"]["id"]
    fetch = lambda url: anonymous(course_api, url.removeprefix("http://testserver/api/v1"))  # noqa: E731
    check = statuslist.checker(fetch)
    assert verify(bob, now=course_api.clock.now(), status=check) is None
    assert course_api.client.get("/api/v1/credentials/status/2").status_code == 404


def test_a_revoked_credential_is_refused_with_the_reason(course_api: CourseApi) -> None:
    alice, bob = passed(course_api, "alice", "bob")
    path = f"/credentials/{alice['id']}"
    assert anonymous(course_api, f"{path}/verify")["verified"] is True
    assert course_api.call("alice", "POST", f"{path}/revoke").status_code == 403
    done = course_api.ok("carol", "POST", f"{path}/revoke")
    assert (done["id"], done["member"]) == (alice["id"], "alice")
    again = course_api.call("admin", "POST", f"{path}/revoke")
    assert again.status_code == 409 and "already revoked" in again.text
    answer = anonymous(course_api, f"{path}/verify")
    assert answer["verified"] is False
    assert (answer["failed_check"], answer["reason"]) == ("status", "revoked")
    assert answer["checks"] == ["schema", "signature", "status", "validity"]
    bare = bob["id"].removeprefix("urn:uuid:")  # the UUID alone names it too
    assert anonymous(course_api, f"/credentials/{bare}/verify")["verified"] is True
    fetch = lambda url: anonymous(course_api, url.removeprefix("http://testserver/api/v1"))  # noqa: E731
    failure = verify(alice, now=course_api.clock.now(), status=statuslist.checker(fetch))
    assert failure is not None and failure.reason == "revoked"


def test_a_status_list_is_valid_from_its_last_change_not_from_when_it_is_read(
    course_api: CourseApi,
) -> None:
    alice, bob = passed(course_api, "alice", "bob")
    fetch = lambda url: anonymous(course_api, url.removeprefix("http://testserver/api/v1"))  # noqa: E731
    check = statuslist.checker(fetch)
    course_api.clock.advance(600)
    assert anonymous(course_api, "/credentials/status/1")["validFrom"] == bob["validFrom"]
    behind = course_api.clock.now() - 1  # a verifier whose clock reads a second behind
    assert verify(bob, now=behind, status=check) is None
    course_api.ok("carol", "POST", f"/credentials/{alice['id']}/revoke")
    revoked_at = iso(course_api.clock.now())
    course_api.clock.advance(600)
    assert anonymous(course_api, "/credentials/status/1")["validFrom"] == revoked_at
    assert verify(bob, now=course_api.clock.now() - 1, status=check) is None
    failure = verify(alice, now=course_api.clock.now() - 1, status=check)
    assert failure is not None and failure.reason == "revoked"


def test_a_stored_credential_altered_fails_the_signature_check(course_api: CourseApi) -> None:
    (alice,) = passed(course_api, "alice")
    altered = {**alice, "name": "Advanced course: certificate of achievement"}
    with course_api.store.session() as s:
        s.execute(
            update(CertificateRow)
            .where(CertificateRow.id == alice["id"])
            .values(credential=altered)
        )
    answer = anonymous(course_api, f"/credentials/{alice['id']}/verify")
    assert (answer["verified"], answer["failed_check"], answer["reason"]) == (
        False, "signature", "signature",
    )  # fmt: skip


def test_unknown_credentials_and_lists_are_not_found(course_api: CourseApi) -> None:
    for path in ("/credentials/urn:uuid:0/verify", "/credentials/nothing", "/credentials/status/2"):
        r = course_api.client.get(f"/api/v1{path}")
        assert r.status_code == 404, (path, r.text)
    r = course_api.call("carol", "POST", "/credentials/urn:uuid:0/revoke")
    assert r.status_code == 404
