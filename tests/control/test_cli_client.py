"""The client commands against a real HTTP server (uvicorn on 127.0.0.1, SQLite)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from seed import seed
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.cli.output import when
from aitc.cli.timespec import parse_duration, parse_time_limit
from aitc.control.api import Settings, create_app
from aitc.control.clock import SystemClock
from aitc.control.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STORES: list[Store] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('cli') / 'aitc.db'}")
    STORES[:] = [store]
    tokens = seed(store, SystemClock())  # type: ignore[arg-type]
    port = _free_port()
    config = uvicorn.Config(
        create_app(Settings(store=store)), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", tokens
    srv.should_exit = True
    thread.join(10)
    store.close()


def aitc(server: tuple[str, dict[str, str]], member: str, *args: str) -> tuple[int, str]:
    url, tokens = server
    env = {"AITC_URL": url, "AITC_TOKEN": tokens[member], "XDG_CONFIG_HOME": "/nonexistent"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_submit_queue_show_cancel(server: tuple[str, dict[str, str]]) -> None:
    code, out = aitc(
        server,
        "alice",
        "submit",
        "--gpus",
        "2",
        "--time",
        "1h30m",
        "--name",
        "train",
        "--",
        "python",
        "-c",
        "print(1)",
    )
    assert code == 0 and "submitted job" in out and "(pending)" in out
    job_id = out.split()[2]
    code, out = aitc(server, "alice", "queue")
    assert code == 0 and "train" in out
    code, out = aitc(server, "alice", "show", job_id)
    assert code == 0 and "python -c print(1)" in out and "submitted" in out
    code, out = aitc(server, "alice", "cancel", job_id)
    assert (code, out.strip()) == (0, f"job {job_id}: cancelled")
    code, out = aitc(server, "alice", "logs", job_id)
    assert (code, out) == (0, "")


def _submitted(out: str) -> int:
    return int(out.split("job ", 1)[1].split()[0].rstrip(":"))


def _state(server: tuple[str, dict[str, str]], member: str, job_id: int) -> str:
    code, out = aitc(server, member, "show", "--json", str(job_id))
    assert code == 0, out
    return str(json.loads(out)["state"])


def test_cancel_takes_jobs_arrays_and_tasks_as_scancel(server: tuple[str, dict[str, str]]) -> None:
    one = _submitted(aitc(server, "alice", "submit", "--", "true")[1])
    two = _submitted(aitc(server, "alice", "submit", "--", "true")[1])
    whole = _submitted(aitc(server, "alice", "submit", "--array", "0-2", "--", "true")[1])
    part = _submitted(aitc(server, "alice", "submit", "--array", "0-2", "--", "true")[1])
    code, out = aitc(server, "alice", "cancel", str(one), str(two), str(whole), f"{part}_1")
    assert code == 0, out
    assert out.splitlines() == [
        f"job {one}: cancelled",
        f"job {two}: cancelled",
        f"job {whole} ({whole}_0): cancelled",
        f"job {whole + 1} ({whole}_1): cancelled",
        f"job {whole + 2} ({whole}_2): cancelled",
        f"job {part + 1} ({part}_1): cancelled",
    ]
    assert [_state(server, "alice", part + i) for i in range(3)] == [
        "pending",
        "cancelled",
        "pending",
    ]
    code, out = aitc(server, "alice", "cancel", str(whole))
    assert code == 1 and "has ended" in out
    aitc(server, "alice", "cancel", str(part))


def test_cancel_me_or_a_member_with_filters(server: tuple[str, dict[str, str]]) -> None:
    sweeps = [
        _submitted(aitc(server, "alice", "submit", "-J", "sweep", "--", "true")[1])
        for _ in range(2)
    ]
    keep = _submitted(aitc(server, "alice", "submit", "-J", "keep", "--", "true")[1])
    bobs = _submitted(aitc(server, "bob", "submit", "-J", "sweep", "--", "true")[1])
    code, out = aitc(server, "erin", "cancel", "--member", "alice", "--name", "sweep")
    assert code == 1 and "--member" in out and "may not cancel" in out  # nothing cancelled
    assert _state(server, "alice", sweeps[0]) == "pending"
    code, out = aitc(server, "alice", "cancel", "--me", "--name", "sweep", "-t", "pending")
    assert code == 0 and out.splitlines() == [f"job {j}: cancelled" for j in sweeps]
    code, out = aitc(server, "alice", "cancel", "--me", "--name", "sweep")
    assert (code, out.strip()) == (0, "no job of yours matches")
    assert _state(server, "alice", keep) == _state(server, "bob", bobs) == "pending"
    code, out = aitc(server, "alice", "cancel", "--me", "--project", "nlp")
    assert (code, out.strip()) == (0, "no job of yours matches")
    code, out = aitc(server, "admin", "cancel", "-u", "alice")
    assert code == 0 and out.strip() == f"job {keep}: cancelled"
    aitc(server, "bob", "cancel", "--me")
    assert _state(server, "bob", bobs) == "cancelled"


def test_show_prints_what_the_jobs_gpus_did_as_seff(server: tuple[str, dict[str, str]]) -> None:
    from aitc.control.gpuusage.samples import UsageAggregate
    from aitc.control.store.gpu_usage import record_gpu_usage

    job_id = _submitted(aitc(server, "alice", "submit", "--gpus", "2", "--", "true")[1])
    code, out = aitc(server, "alice", "show", str(job_id))
    assert code == 0 and "GPU usage" not in out  # never sampled: no table at all
    usage = UsageAggregate(30, 2, 63.5, 98.0, 0.85, 40_960.0, 61_440.0, 410.0)
    with STORES[0].session() as s:
        record_gpu_usage(session=s, usage={(job_id, 1): usage}, now=100.0)
    code, out = aitc(server, "alice", "show", str(job_id))
    assert code == 0 and "GPU usage" in out
    row = next(line for line in out.splitlines() if "GiB" in line)
    shown = "1 2 30 64 % 98 % 85 % 40.0 / 60.0 GiB 410 W"
    assert row.split() == shown.split()
    code, out = aitc(server, "alice", "show", "--json", str(job_id))
    assert json.loads(out)["gpu_usage"][0]["util_p95_pct"] == 98.0
    aitc(server, "alice", "cancel", str(job_id))
    fmt = "id,gpu_util,gpu_idle,gpu_mem"
    code, out = aitc(server, "alice", "history", "--state", "cancelled", "--format", fmt)
    assert code == 0, out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}  # (title, header)
    assert rows[str(job_id)] == ["64", "%", "85", "%", "60.0", "GiB"]
    assert all(row == ["-", "-", "-"] for key, row in rows.items() if key != str(job_id))


def test_queue_start_lists_pending_jobs_with_their_expected_start(
    server: tuple[str, dict[str, str]],
) -> None:
    from aitc.control.store import JobRow

    ids = [
        _submitted(aitc(server, "bob", "submit", "-J", f"q{i}", "--", "true")[1]) for i in (1, 2)
    ]
    soon = datetime(2031, 5, 4, 12, 30, tzinfo=UTC).timestamp()
    with STORES[0].session() as s:
        s.get_one(JobRow, ids[0]).estimated_start = soon
    code, out = aitc(server, "bob", "queue", "--start", "--me")
    assert code == 0, out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()[:1] != ["id"]}
    assert when(datetime.fromtimestamp(soon, UTC).isoformat()) in rows[str(ids[0])]
    assert rows[str(ids[1])].split()[6] == "-"  # no estimate yet
    for job_id in ids:
        aitc(server, "bob", "cancel", str(job_id))


def test_an_invalid_submission_exits_2_naming_the_field(server: tuple[str, dict[str, str]]) -> None:
    code, out = aitc(server, "alice", "submit", "--gpus", "64", "--", "true")
    assert code == 2 and "gpus:" in out and "can never run on this cluster" in out


def test_someone_elses_job_is_not_found(server: tuple[str, dict[str, str]]) -> None:
    code, out = aitc(server, "bob", "submit", "--", "true")
    job_id = out.split()[2]
    code, out = aitc(server, "pat", "show", job_id)
    assert code == 1 and "not found" in out


def test_a_bad_token_says_so(server: tuple[str, dict[str, str]]) -> None:
    url, _ = server
    result = CliRunner().invoke(
        app,
        ["queue", "--url", url, "--token", "aitc_wrong"],
        env={"XDG_CONFIG_HOME": "/nonexistent"},
    )
    assert result.exit_code == 1 and "refused the token" in result.output


def test_a_token_copied_with_an_ellipsis_is_refused_naming_the_flag(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    env = {"XDG_CONFIG_HOME": str(tmp_path), "AITC_TOKEN": "aitc_2TKU…"}
    result = CliRunner().invoke(app, ["queue", "--url", url], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("aitc: --token: not a token: it holds '…'")
    assert "Traceback" not in result.output


def test_a_server_that_is_down_is_named(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = CliRunner().invoke(
        app, ["queue", "--url", url, "--token", "x"], env={"XDG_CONFIG_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1 and f"cannot reach the aitc server at {url}" in result.output


def test_tokens_are_for_admins(server: tuple[str, dict[str, str]]) -> None:
    code, out = aitc(server, "alice", "token", "create", "bob")
    assert code == 1 and "not allowed" in out
    code, out = aitc(server, "admin", "token", "create", "bob", "--name", "laptop")
    secret = out.splitlines()[0]
    assert code == 0 and secret.startswith("aitc_")
    code, out = aitc(server, "admin", "token", "list")
    assert code == 0 and "laptop" in out and secret not in out


def test_url_and_token_come_from_the_config_file(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = server
    (tmp_path / "aitc").mkdir()
    (tmp_path / "aitc" / "config.toml").write_text(f'url = "{url}"\ntoken = "{tokens["bob"]}"\n')
    result = CliRunner().invoke(
        app, ["queue"], env={"XDG_CONFIG_HOME": str(tmp_path), "AITC_URL": "", "AITC_TOKEN": ""}
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("1d", 86400), ("600", 600)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "h", "1h-5m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 5400),  # a bare number means minutes, as in Slurm
        ("0", 0),
        ("5:30", 330),  # MM:SS
        ("02:00:00", 7200),  # HH:MM:SS
        ("1-02", 93600),  # D-HH
        ("1-02:30", 95400),  # D-HH:MM
        ("1-02:00:00", 93600),  # D-HH:MM:SS
        ("2h", 7200),
        ("90m", 5400),
        ("1h30m", 5400),
        ("45s", 45),
        ("1d", 86400),
    ],
)
def test_time_limits_as_slurm_and_aitc_write_them(text: str, seconds: float) -> None:
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "1:2:3:4", "-5", "1-", "1.5", "h", "2h-1"])
def test_bad_time_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time limit"):
        parse_time_limit(text)


def test_logs_follow_prints_output_until_the_job_ends(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    from aitc.control.store import JobRow, transition
    from aitc.domain.job import JobState

    code, out = aitc(server, "alice", "submit", "--", "train")
    job_id, store, log = int(out.split()[2]), STORES[0], tmp_path / "out.log"
    log.write_text("epoch 1\n")
    with store.session() as s:
        job = s.get_one(JobRow, job_id)
        transition(session=s, job=job, to=JobState.RUNNING, cause="started", now=time.time())
        job.stdout_path = str(log)

    def finish() -> None:
        time.sleep(0.3)
        with log.open("a") as f:
            f.write("epoch 2\n")
        with store.session() as s:
            transition(
                session=s,
                job=s.get_one(JobRow, job_id),
                to=JobState.COMPLETED,
                cause="exited",
                now=time.time(),
                exit_code=0,
            )

    threading.Thread(target=finish).start()
    code, out = aitc(server, "alice", "logs", "-f", str(job_id))
    assert (code, out) == (0, "epoch 1\nepoch 2\n")
    code, out = aitc(server, "alice", "show", str(job_id))
    assert "completed" in out and re.search(r"^exit code +0$", out, flags=re.M)
