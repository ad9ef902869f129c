"""The admins' pages do what the API's admin routes do, for admins only, every form with its
CSRF token: disabling a member signs their browser and tokens out, a token issued on the
page is shown once and works until revoked, a reservation is stored only when the engine can
guarantee it (its reason beside the field otherwise), the organisations come from the lab's
last apply."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from page_harness import Pages
from page_harness import pages_fixture as pages_fixture  # noqa: F401 (the pages fixture)
from sqlalchemy import func, select

from aitc.control.store import JobRow, ReservationRow
from aitc.control.store.models import NodeDrainRow

ADMIN_PAGES = (
    "/admin/members",
    "/admin/tokens",
    "/admin/organisations",
    "/admin/reservations",
    "/admin/nodes",
)


def utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M")


def test_only_admins_see_the_admin_pages_and_forms(pages: Pages) -> None:
    admin, alice, carol = pages.visitor("admin"), pages.visitor("alice"), pages.visitor("carol")
    for path in ADMIN_PAGES:
        assert admin.get(path).status_code == 200, path
        for other in (alice, carol):
            refused = other.get(path)
            assert refused.status_code == 403 and "only an admin may do this" in refused.text
    assert 'href="/admin"' in admin.get("/").text and 'href="/admin"' not in alice.get("/").text
    for path, form in [
        ("/admin/members/bob/disable", {}),
        ("/admin/tokens", {"member": "alice"}),
        ("/admin/tokens/1/revoke", {}),
        ("/admin/reservations", {"org": "acme", "gpus": "1"}),
        ("/admin/nodes/n1/drain", {"reason": "mine"}),
    ]:
        assert alice.post(path, **form).status_code == 403, path
    with pages.store.session() as s:
        assert s.scalar(select(func.count(ReservationRow.id))) == 0
        assert s.scalar(select(func.count(NodeDrainRow.node))) == 0


def test_an_admin_form_without_its_csrf_token_is_refused(pages: Pages) -> None:
    admin = pages.visitor("admin")
    refused = admin.post("/admin/members/bob/disable", csrf="")
    assert refused.status_code == 403 and "Form refused" in refused.text
    assert pages.api("bob", "GET", "/me").status_code == 200


def test_disabling_a_member_signs_them_out_and_holds_their_jobs(pages: Pages) -> None:
    admin, bob = pages.visitor("admin"), pages.visitor("bob")
    job = pages.api("bob", "POST", "/jobs", {"command": ["true"], "gpus": 1}).json()["id"]
    done = admin.post("/admin/members/bob/disable")
    assert done.status_code == 303
    listed = admin.get(done.headers["location"])
    assert "Member bob disabled" in listed.text
    assert bob.get("/").status_code == 303  # to the sign-in page, at once
    assert pages.api("bob", "GET", "/me").status_code == 401
    with pages.store.session() as s:
        reasons = s.get_one(JobRow, job).pending_reasons or []
        assert [r["code"] for r in reasons] == ["member_disabled"]
    assert admin.post("/admin/members/bob/enable").status_code == 303
    assert pages.api("bob", "GET", "/me").status_code == 200


def test_the_last_admin_cannot_be_disabled_and_the_page_says_why(pages: Pages) -> None:
    refused = pages.visitor("admin").post("/admin/members/admin/disable")
    assert refused.status_code == 409 and "last enabled admin" in refused.text


def test_members_are_searched_and_paginated(pages: Pages) -> None:
    admin = pages.visitor("admin")
    found = admin.get("/admin/members", q="acme")
    assert (
        "2 members matching" in found.text and ">pat<" in found.text and ">alice<" not in found.text
    )
    page = admin.get("/admin/members", page=2)
    assert page.status_code == 200 and "No member." in page.text  # 9 members: one page


def test_a_token_issued_on_the_page_is_shown_once_and_works_until_revoked(pages: Pages) -> None:
    admin = pages.visitor("admin")
    issued = admin.post("/admin/tokens", member="erin", name="laptop", days="7")
    assert issued.status_code == 201
    secret = issued.text.split('id="secret" tabindex="0">', 1)[1].split("<", 1)[0]
    assert secret.startswith("aitc_")
    headers = {"Authorization": f"Bearer {secret}"}
    client = TestClient(pages.app)
    assert client.get("/api/v1/me", headers=headers).json()["id"] == "erin"
    listing = admin.get("/admin/tokens", member="erin")
    assert secret not in listing.text and secret[:12] in listing.text
    token_id = int(issued.text.split('<h2 id="h-issued">Token ', 1)[1].split(" ", 1)[0])
    assert admin.post(f"/admin/tokens/{token_id}/revoke").status_code == 303
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    bad = admin.post("/admin/tokens", member="erin", days="-1")
    assert bad.status_code == 422 and "t-days-error" in bad.text and "above 0" in bad.text
    nobody = admin.post("/admin/tokens", member="nobody")
    assert nobody.status_code == 422 and "no enabled member &#39;nobody&#39;" in nobody.text


def test_a_reservation_is_stored_only_when_the_engine_can_guarantee_it(pages: Pages) -> None:
    admin, t = pages.visitor("admin"), pages.clock.now()
    window = {"start": utc(t + 3600), "end": utc(t + 7200)}
    too_big = admin.post("/admin/reservations", org="acme", gpus="17", **window)
    assert too_big.status_code == 422
    assert 'id="r-gpus-error"' in too_big.text and "can never be guaranteed" in too_big.text
    assert "needs 17 GPUs but only 16" in too_big.text
    bad_time = admin.post("/admin/reservations", org="acme", gpus="8", start="soon", end="x")
    assert bad_time.status_code == 422 and 'id="r-start-error"' in bad_time.text
    made = admin.post(
        "/admin/reservations", org="acme", gpus="8", nodes="n2", name="contract", id="c1", **window
    )
    assert made.status_code == 303, made.text
    listed = admin.get(made.headers["location"])
    assert "Reservation c1 made" in listed.text and "8 GPUs on n2" in listed.text
    with pages.store.session() as s:
        row = s.get_one(ReservationRow, "c1")
        assert (row.org_id, row.gpus, row.nodes, row.start_at) == (
            "acme",
            8,
            ["n2"],
            t + 3600 - t % 60,
        )
    assert admin.post("/admin/reservations/c1/delete").status_code == 303
    with pages.store.session() as s:
        assert s.get(ReservationRow, "c1") is None


def test_the_organisations_page_shows_the_lab_and_its_last_apply(pages: Pages) -> None:
    page = pages.visitor("admin").get("/admin/organisations").text
    assert "Lab <strong>test-lab</strong> applied" in page
    assert "organisation uni: created" in page  # the seed's apply made it
    # uni's share is 2 of the 5 of the four enabled organisations: 40 %
    assert "<td>2.0</td>\n    <td>40.0 %</td>" in page
    assert "<td>4</td><td>no limit</td>" in page  # acme's quota, borrowing unbounded


def test_an_admin_drains_and_resumes_a_node_and_the_map_shows_why(pages: Pages) -> None:
    admin, alice = pages.visitor("admin"), pages.visitor("alice")
    assert "Drain n1" in admin.get("/admin/nodes").text
    refused = admin.post("/admin/nodes/n1/drain", reason=" ")
    assert refused.status_code == 422 and "say why the node is set drain" in refused.text
    done = admin.post("/admin/nodes/n1/drain", reason="new firmware")
    assert done.status_code == 303
    listed = admin.get(done.headers["location"]).text
    assert "Node n1 drained" in listed and "Resume n1" in listed and "new firmware" in listed
    nodes = pages.api("alice", "GET", "/nodes").json()["data"]
    assert (nodes[0]["state"], nodes[0]["reason_by"]) == ("drained", "admin")
    assert "drained new firmware" in alice.get("/map").text
    assert admin.post("/admin/nodes/n1/resume").status_code == 303
    assert pages.api("alice", "GET", "/nodes").json()["data"][0]["state"] == "up"
    assert admin.post("/admin/nodes/n2/down", reason="power supply").status_code == 303
    assert pages.api("alice", "GET", "/nodes").json()["data"][1]["state"] == "down"
    assert admin.post("/admin/nodes/dgx9/drain", reason="x").status_code == 404
