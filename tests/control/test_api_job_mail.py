"""``mail_type`` and ``mail_user`` on ``POST /jobs``: Slurm's types, canonical; the member's
own address by default, another only for an admin; anything else 422 naming the field."""

from __future__ import annotations

import pytest
from conftest import Api


def _post(api: Api, member: str, **body: object) -> tuple[int, dict[str, object]]:
    body.setdefault("command", ["echo", "hi"])
    r = api.client.post("/api/v1/jobs", json=body, headers=api.auth(member))
    return r.status_code, r.json()


def test_the_members_own_address_is_filled_in_and_the_types_made_canonical(api: Api) -> None:
    job = api.submit("alice", mail_type="end, begin,fail")
    assert (job["mail_type"], job["mail_user"]) == ("BEGIN,END,FAIL", "alice@uni.example")
    assert api.submit("alice", mail_type="all")["mail_type"] == "BEGIN,END,FAIL,REQUEUE"
    assert api.submit("alice", mail_type="NONE")["mail_type"] is None
    assert api.submit("alice", mail_type="END", mail_user="Alice@Uni.example")["mail_user"] == (
        "Alice@Uni.example"
    )
    assert api.submit("alice")["mail_type"] is None


def test_only_an_admin_may_name_another_address(api: Api) -> None:
    code, answer = _post(api, "alice", mail_type="END", mail_user="victim@elsewhere.example")
    assert code == 422
    assert "mail_user" in str(answer) and "only an admin may name another" in str(answer)
    job = api.submit("admin", mail_type="END", mail_user="ops@lab.example", project="vision")
    assert job["mail_user"] == "ops@lab.example"


def test_others_do_not_see_the_address(api: Api) -> None:
    job = api.submit("alice", mail_type="END")
    seen = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("admin")).json()
    assert seen["mail_user"] == "alice@uni.example"
    other = api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.auth("erin"))
    if other.status_code == 200:  # a member of the same project sees the job, not the address
        assert other.json()["mail_user"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mail_type": "BEGIN,LUNCH"}, "mail_type"),
        ({"mail_type": "NONE,END"}, "mail_type"),
        ({"mail_type": "INVALID_DEPEND"}, "mail_type"),
        ({"mail_type": ""}, "mail_type"),
        ({"mail_type": "END", "mail_user": "not an address"}, "mail_user"),
        ({"mail_type": "END", "mail_user": "a@b.example\r\nBcc: x@y.example"}, "mail_user"),
        ({"mail_type": "END", "mail_user": "Alice <alice@uni.example>"}, "mail_user"),
        ({"mail_type": 3}, "mail_type"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    code, answer = _post(api, "alice", **body)
    assert code == 422, answer
    assert field in str(answer)
