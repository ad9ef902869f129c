"""The dashboard in Chromium against a real ``aitc serve``: a member signs in, submits from
the form, watches the map, the queue and a log, cancels; another member sees none of it; a
form without its CSRF token is refused; axe-core finds no serious violation on any page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from axe_check import axe_violations
from server_proc import ServerProcess, wait_until

from aitc.control.gpuusage.samples import UsageAggregate
from aitc.control.store import Store
from aitc.control.store.gpu_usage import record_gpu_usage

LIVE = "#live"


def waiting_on(flag: Path, lines: int = 1) -> str:
    """A command line that prints ``lines`` lines, then waits until ``flag`` exists."""
    return (
        f"sh -c 'for i in $(seq {lines}); do echo line $i; done; "
        f"while [ ! -e {flag} ]; do sleep 0.1; done; echo done'"
    )


def submit(page: Any, server: ServerProcess, *, name: str, command: str, **fields: str) -> int:
    """Submit the form; the job's number, read from the job page it leads to."""
    page.goto(server.url + "/submit")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Project").select_option("vision")
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Command").fill(command)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def state(admin: httpx.Client, job_id: int) -> str:
    return str(admin.get(f"/jobs/{job_id}").json()["state"])


def test_a_member_submits_8_and_two_4_gpu_jobs_and_watches_them_on_the_map_and_queue(
    server: ServerProcess, member_page: Any, admin: httpx.Client, base: Path, shots: Path
) -> None:
    page, flags = member_page, [base / f"flag-map-{i}" for i in range(3)]
    big = submit(page, server, name="big", command=waiting_on(flags[0]), GPUs="8")
    wait_until(lambda: state(admin, big), lambda s: s == "running", timeout=90)
    a = submit(page, server, name="four-a", command=waiting_on(flags[1]), GPUs="4")
    b = submit(page, server, name="four-b", command=waiting_on(flags[2]), GPUs="4")
    page.goto(server.url + "/queue")
    queue = page.locator(LIVE)
    queue.get_by_text("It needs 4 GPUs").first.wait_for()  # a pending reason, in words
    assert queue.get_by_text("Predicted start").count() >= 2
    page.screenshot(path=shots / "queue.png", full_page=True)
    page.goto(server.url + "/map")
    assert page.locator("li.gpu", has_text=f"{big} big").count() == 8
    flags[0].touch()  # the big job ends; both 4-GPU jobs start: the map follows, no reload
    page.locator("li.gpu", has_text=f"{a} four-a").nth(3).wait_for()
    assert page.locator("li.gpu", has_text=f"{b} four-b").count() == 4
    page.screenshot(path=shots / "map.png", full_page=True)
    page.goto(server.url + "/")
    page.locator(LIVE).get_by_text("four-b").wait_for()
    page.screenshot(path=shots / "overview.png", full_page=True)
    for flag in flags[1:]:
        flag.touch()


def test_the_job_page_shows_the_log_as_it_is_written_and_cancels(
    server: ServerProcess, member_page: Any, admin: httpx.Client, base: Path, shots: Path
) -> None:
    page, flag = member_page, base / "flag-log"
    job = submit(page, server, name="talker", command=waiting_on(flag, 3), GPUs="1")
    log = page.locator("pre[data-log*='stdout']")
    log.get_by_text("line 3").wait_for()
    page.screenshot(path=shots / "job.png", full_page=True)
    flag.touch()
    log.get_by_text("done").wait_for()  # written after the page loaded; no reload
    assert page.url.endswith(f"/jobs/{job}")
    other = submit(page, server, name="to-cancel", command="sleep 600", GPUs="1")
    page.get_by_role("button", name=f"Cancel job {other}").click()
    page.wait_for_url(f"**/jobs/{other}")
    wait_until(lambda: state(admin, other), lambda s: s == "cancelled", timeout=90)


def test_the_job_page_requeues_a_running_job_which_runs_again(
    server: ServerProcess, member_page: Any, admin: httpx.Client
) -> None:
    page = member_page
    command = 'sh -c "echo attempt $AITC_ATTEMPT; sleep 600"'
    job = submit(page, server, name="again", command=command, GPUs="1")
    wait_until(lambda: state(admin, job), lambda s: s == "running", timeout=90)
    page.reload()
    page.get_by_role("button", name=f"Requeue job {job}").click()
    page.wait_for_url(f"**/jobs/{job}")
    attempt = lambda: admin.get(f"/jobs/{job}").json()  # noqa: E731
    wait_until(attempt, lambda j: (j["state"], j["attempt"]) == ("running", 2), timeout=90)
    page.reload()
    page.locator("pre[data-log*='stdout']").get_by_text("attempt 2").wait_for()
    assert page.get_by_text("requeued by bklein (attempt 1 stopped)").count() == 1  # history
    page.get_by_text("Output of attempt 1").click()  # the first attempt's output, folded
    assert page.locator("pre[aria-labelledby='h-stdout-1']").inner_text() == "attempt 1\n"
    page.get_by_role("button", name=f"Cancel job {job}").click()
    wait_until(lambda: state(admin, job), lambda s: s == "cancelled", timeout=90)


def test_a_tasks_page_cancels_its_whole_array(
    server: ServerProcess, member_page: Any, admin: httpx.Client, tokens: dict[str, str]
) -> None:
    body = {"command": ["true"], "array": "0-2", "hold": True, "project": "vision"}
    auth = {"Authorization": f"Bearer {tokens['bklein']}"}
    first = httpx.post(f"{server.url}/api/v1/jobs", json=body, headers=auth).json()["id"]
    page = member_page
    page.goto(f"{server.url}/jobs/{first + 1}")
    page.get_by_role("button", name=f"Cancel every task of array {first}").click()
    page.wait_for_url(f"**/jobs/{first + 1}")
    assert [state(admin, first + i) for i in range(3)] == ["cancelled"] * 3
    assert page.get_by_role("button", name=re.compile("Cancel")).count() == 0  # all ended
    plain = submit(page, server, name="single", command="sleep 600", GPUs="1")
    assert page.get_by_role("button", name=re.compile("array")).count() == 0  # no array
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    again = page.request.post(f"{server.url}/jobs/{first}/cancel-array", form={"csrf": csrf})
    assert again.status == 409 and "has ended" in again.text()
    page.get_by_role("button", name=f"Cancel job {plain}").click()


def test_the_job_page_shows_the_batch_script_as_submitted(
    server: ServerProcess, member_page: Any, tokens: dict[str, str]
) -> None:
    text = "#!/bin/sh\n#SBATCH -t 5\necho '<b>not bold</b>'\n"
    body = {
        "command": ["/bin/sh", "/home/bklein/j.sh"],
        "script": {"text": text, "path": "/home/bklein/j.sh"},
        "hold": True,
        "signal": "B:USR1@30",
        "time_limit": 300,
        "project": "vision",
    }
    auth = {"Authorization": f"Bearer {tokens['bklein']}"}
    job_id = httpx.post(f"{server.url}/api/v1/jobs", json=body, headers=auth).json()["id"]
    page = member_page
    page.goto(f"{server.url}/jobs/{job_id}")
    shown = page.get_by_role("region", name=re.compile("Batch script"))
    assert shown.locator("pre").inner_text() == text  # as text, not markup
    assert "/home/bklein/j.sh" in shown.inner_text()
    assert page.locator("dd", has_text="B:USR1@30").count() == 1
    assert page.get_by_role("region", name="GPU usage").count() == 0  # never sampled
    store = Store.open(f"sqlite:///{server.state_dir / 'aitc.db'}")  # the server's own
    with store.session() as s:
        usage = UsageAggregate(30, 2, 63.5, 98.0, 0.85, 40_960.0, 61_440.0, 410.0)
        record_gpu_usage(session=s, usage={(job_id, 1): usage}, now=100.0)
    store.close()
    page.reload()
    row = page.get_by_role("region", name="GPU usage").locator("tbody tr")
    assert row.locator("td").all_inner_texts() == [
        "1", "2", "30", "64 %, 98 %", "85 %", "40.0 GiB, 60.0 GiB", "410 W"
    ]  # fmt: skip
    page.get_by_role("button", name=f"Cancel job {job_id}").click()


def test_another_organisations_member_can_neither_see_nor_cancel_nor_read_the_job(
    server: ServerProcess, member_page: Any, other_page: Any, admin: httpx.Client, base: Path
) -> None:
    job = submit(member_page, server, name="secret-run", command=waiting_on(base / "never"))
    wait_until(lambda: state(admin, job), lambda s: s == "running", timeout=90)
    answer = other_page.goto(f"{server.url}/jobs/{job}")
    seen = answer.text()
    assert answer.status == 404 and "Not found" in seen
    never = other_page.goto(f"{server.url}/jobs/999999")
    assert never.status == 404 and never.text() == seen  # exists or not: the same page
    assert other_page.request.get(f"{server.url}/jobs/{job}/log?stream=stdout").status == 404
    other_page.goto(server.url + "/")
    csrf = other_page.locator("input[name=csrf]").first.get_attribute("value")
    cancel = other_page.request.post(f"{server.url}/jobs/{job}/cancel", form={"csrf": csrf})
    assert cancel.status == 404
    assert state(admin, job) == "running"
    for path in ("/map", "/queue?state=all", "/"):
        other_page.goto(server.url + path)
        assert "secret-run" not in other_page.content()


def test_a_form_without_its_csrf_token_is_refused(
    server: ServerProcess, member_page: Any, admin: httpx.Client
) -> None:
    before = admin.get("/jobs", params={"limit": 1}).json()["count"]
    body = {"project": "vision", "gpus": "1", "command": "true"}
    for csrf in (None, "forged"):
        form = body if csrf is None else {**body, "csrf": csrf}
        answer = member_page.request.post(f"{server.url}/submit", form=form, max_redirects=0)
        assert answer.status == 403 and "Form refused" in answer.text()
    signin = member_page.request.post(f"{server.url}/signin", form={"token": "x"})
    assert signin.status == 403
    assert admin.get("/jobs", params={"limit": 1}).json()["count"] == before


def test_the_form_shows_the_apis_validation_messages_beside_the_fields(
    server: ServerProcess, member_page: Any, shots: Path
) -> None:
    page = member_page
    page.goto(server.url + "/submit")
    page.get_by_label("Working directory").fill("relative/dir")
    page.get_by_label("Command").fill("true")
    page.get_by_role("button", name="Submit").click()
    page.locator("#f-workdir-error").wait_for()
    assert page.get_by_label("Working directory").get_attribute("aria-invalid") == "true"
    page.get_by_label("Working directory").fill("")
    page.get_by_label("GPUs").fill("16")
    page.get_by_role("button", name="Submit").click()
    page.locator("#f-gpus-error", has_text="asks for 16 GPUs but the cluster has only 8").wait_for()
    assert page.get_by_label("Command").input_value() == "true"  # what was typed stays
    page.screenshot(path=shots / "submit.png", full_page=True)


def test_no_page_has_a_serious_accessibility_violation(
    server: ServerProcess, browser: Any, member_page: Any, admin: httpx.Client, shots: Path
) -> None:
    job = submit(member_page, server, name="a11y", command="echo hello")
    anonymous = browser.new_page()
    anonymous.goto(server.url + "/signin")
    anonymous.screenshot(path=shots / "signin.png")
    found = {"/signin": axe_violations(anonymous)}
    for path in ("/", "/queue", "/map", "/share", "/submit", f"/jobs/{job}", "/jobs/999999"):
        member_page.goto(server.url + path)
        found[path] = axe_violations(member_page)
    member_page.goto(server.url + "/share")
    member_page.screenshot(path=shots / "share.png", full_page=True)
    member_page.set_viewport_size({"width": 390, "height": 844})  # a phone
    member_page.goto(server.url + "/")
    found["/ (phone)"] = axe_violations(member_page)
    member_page.screenshot(path=shots / "overview-phone.png", full_page=True)
    anonymous.close()
    assert {p: [v["id"] for v in vs] for p, vs in found.items() if vs} == {}
