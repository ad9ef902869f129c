"""Submissions: numbers are not coerced from strings, time limits have a floor; secret
variables of a job are shown only to its owner and admins."""

from __future__ import annotations

import pytest
from conftest import Api


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gpus": "4"}, "gpus"),
        ({"nodes": "1"}, "nodes"),
        ({"time_limit": "60"}, "time_limit"),
        ({"gpus": 1.5}, "gpus"),
        ({"gpus": True}, "gpus"),
        ({"time_limit": 0.5}, "time_limit"),
    ],
)
def test_a_string_or_out_of_range_number_is_a_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    r = api.client.post(
        "/api/v1/jobs", json={"command": ["true"], **body}, headers=api.auth("alice")
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


def test_a_time_limit_of_one_second_is_accepted(api: Api) -> None:
    assert api.submit("alice", time_limit=1)["time_limit"] == 1.0


def test_secret_values_are_shown_to_the_owner_and_admins_only(api: Api) -> None:
    env = {"WANDB_API_KEY": "s3cret", "HF_TOKEN": "hf_x", "EPOCHS": "3"}
    job = api.submit("alice", env=env)  # alice and erin share the vision project
    url = f"/api/v1/jobs/{job['id']}"
    assert job["env"] == env
    assert api.client.get(url, headers=api.auth("alice")).json()["env"] == env
    assert api.client.get(url, headers=api.auth("admin")).json()["env"] == env
    for seen in (
        api.client.get(url, headers=api.auth("erin")).json()["env"],
        next(
            j["env"]
            for j in api.client.get("/api/v1/jobs", headers=api.auth("erin")).json()["data"]
            if j["id"] == job["id"]
        ),
        next(
            j["env"]
            for j in api.client.get("/api/v1/queue", headers=api.auth("erin")).json()["pending"]
            if j["id"] == job["id"]
        ),
    ):
        assert seen == {"WANDB_API_KEY": "***", "HF_TOKEN": "***", "EPOCHS": "3"}
