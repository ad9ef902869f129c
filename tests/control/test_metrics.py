"""``/metrics``: a real ``aitc serve`` scraped and parsed with prometheus-client's parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_proc import ServerProcess, wait_until


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "var", gpus=4)
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: ServerProcess, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token or server.token}"}
    r = httpx.get(server.url + "/metrics", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_change_as_jobs_run(server: ServerProcess, tmp_path: Path) -> None:
    before = scrape(server)
    assert value(before, "aitc_node_gpus", node="node0", model="H100-80GB", state="up") == 4
    assert value(before, "aitc_gpus_allocated", organisation="ai-institute") == 0
    flag = tmp_path / "go"
    with server.client() as c:
        ids = []
        for gpus in (2, 2, 4):  # the third waits for GPUs
            body = {
                "command": ["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.05; done"],
                "gpus": gpus,
                "project": "vision",
            }
            r = c.post("/jobs", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        running = wait_until(
            lambda: scrape(server),
            lambda m: (
                value(m, "aitc_gpus_allocated", organisation="ai-institute") == 4
                and sum(v for (n, _), v in m.items() if n == "aitc_jobs_pending") == 1
                # reasons are written once the controller's books are quiet (planner.py)
                and value(m, "aitc_jobs_pending", reason="not_enough_gpus") == 1
            ),
        )
        assert value(running, "aitc_jobs_pending", reason="not_enough_gpus") == 1
        assert (
            value(running, "aitc_job_transitions_total", from_state="none", to_state="pending") == 3
        )
        assert value(running, "aitc_scheduler_pass_duration_seconds_count") > 0
        flag.touch()
        done = wait_until(
            lambda: scrape(server),
            lambda m: (
                value(m, "aitc_job_transitions_total", from_state="running", to_state="completed")
                == 3
            ),
            timeout=60,
        )
    assert value(done, "aitc_gpus_allocated", organisation="ai-institute") == 0
    assert sum(v for (n, _), v in done.items() if n == "aitc_jobs_pending") == 0
    assert value(done, "aitc_executor_errors_total", operation="start") == 0
    # Virtual GPUs report nothing: no DCGM readings at all.
    assert not any(n.startswith("DCGM_FI_DEV") for n, _ in done)


def test_refused_tokens_are_counted_and_metrics_need_an_admin(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/metrics").status_code == 401
    bad = {"Authorization": "Bearer aitc_" + "x" * 43}
    assert httpx.get(server.url + "/api/v1/jobs", headers=bad).status_code == 401
    with server.client() as c:
        member = c.post("/tokens", json={"member": "bklein"}).json()["token"]
    r = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {member}"})
    assert r.status_code == 403
    m = scrape(server)
    assert value(m, "aitc_api_auth_failures_total", reason="missing_token") == 1
    assert value(m, "aitc_api_auth_failures_total", reason="rejected_token") == 1
    assert value(m, "aitc_api_auth_failures_total", reason="forbidden") == 1
