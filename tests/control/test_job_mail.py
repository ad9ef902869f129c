"""E-mail about jobs (sbatch's ``--mail-type``/``--mail-user``): the controller runs jobs on a
``FakeExecutor``, the mailer hands what they queued to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_rig import Rig
from smtp_sink import SmtpSink, free_port

from aitc.control.clock import FakeClock
from aitc.control.mailer import NO_SMTP, Mailer, MailSettings
from aitc.control.store import JobSpec, Store, create_job, load_caller
from aitc.control.store.jobs import requeue_job
from aitc.control.store.outbox import mail_counts


@pytest.fixture
def rig(store: Store, clock: FakeClock, tmp_path: Path) -> Rig:
    return Rig(store, clock, tmp_path)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def _mailer(rig: Rig, port: int | None, **settings: object) -> Mailer:
    mail = MailSettings(
        smtp_host=None if port is None else "127.0.0.1",
        smtp_port=port or 25,
        mail_from="aitc@lab.example",
        timeout_s=5.0,
        **settings,  # type: ignore[arg-type]
    )
    return Mailer(store=rig.store, clock=rig.clock, settings=mail)


def _submit(rig: Rig, mail_type: str, member: str = "alice", **spec: object) -> int:
    values: dict[str, object] = {"command": ("train",), "name": "train", **spec}
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id=member)
        job, _ = create_job(
            session=s,
            spec=JobSpec(mail_type=mail_type, **values),  # type: ignore[arg-type]
            caller=caller,
            now=rig.clock.now(),
        )
        return job.id


def test_begin_and_end_mails_say_what_slurms_say(rig: Rig, sink: SmtpSink) -> None:
    mailer = _mailer(rig, sink.port, public_url="https://aitc.lab.example/")
    job = _submit(rig, "BEGIN,END")
    rig.clock.advance(5)
    rig.step()
    rig.step()
    assert mailer.step().sent
    rig.clock.advance(3723)
    rig.fake.finish(job)
    rig.step()
    mailer.step()
    assert sink.subjects == [
        f"aitc Job_id={job} Name=train Began, Queued time 00:00:06",
        f"aitc Job_id={job} Name=train Ended, Run time 01:02:05, COMPLETED, ExitCode 0",
    ]
    assert sink.to == [["alice@uni.example"], ["alice@uni.example"]]
    end = sink.messages[1]
    assert end["From"] == "aitc@lab.example"
    body = end.get_content()
    assert "State:      completed" in body and "Exit code:  0" in body
    assert f"https://aitc.lab.example/jobs/{job}" in body
    assert mailer.step().sent == ()  # each mail once


def test_fail_is_mailed_only_when_the_job_fails(rig: Rig, sink: SmtpSink) -> None:
    mailer = _mailer(rig, sink.port)
    good, bad = _submit(rig, "FAIL"), _submit(rig, "FAIL")
    rig.step()
    rig.step()
    rig.fake.finish(good, exit_code=0)
    rig.fake.finish(bad, exit_code=3)
    rig.step()
    mailer.step()
    assert len(sink.subjects) == 1
    assert sink.subjects[0].startswith(f"aitc Job_id={bad} Name=train Failed, Run time")
    assert sink.subjects[0].endswith("FAILED, ExitCode 3")


def test_a_requeue_is_mailed(rig: Rig, sink: SmtpSink) -> None:
    mailer = _mailer(rig, sink.port)
    job = _submit(rig, "REQUEUE")
    rig.step()
    rig.step()
    with rig.store.session() as s:
        caller = load_caller(session=s, member_id="alice")
        requeue_job(session=s, caller=caller, job_id=job, hold=False, now=rig.clock.now())
    rig.step()
    mailer.step()
    assert len(sink.subjects) == 1
    assert sink.subjects[0].startswith(f"aitc Job_id={job} Name=train Requeued, Run time")


def test_time_limit_50_comes_at_half_the_limit(rig: Rig, sink: SmtpSink) -> None:
    mailer = _mailer(rig, sink.port)
    job = _submit(rig, "TIME_LIMIT_50,TIME_LIMIT_90", time_limit=1000.0)
    rig.step()
    rig.step()
    started = rig.job(job).started_at or 0.0
    rig.clock.advance(started + 499 - rig.clock.now())
    mailer.step()
    assert sink.subjects == []
    rig.clock.advance(1)
    assert mailer.step().warnings_queued == 1
    assert mailer.step().warnings_queued == 0  # once
    assert sink.subjects == [
        f"aitc Job_id={job} Name=train Reached 50% of time limit, Run time 00:08:20"
    ]


def _array(rig: Rig, mail_type: str) -> list[int]:
    first = _submit(rig, mail_type, array="0-2")
    return [first + i for i in range(3)]


@pytest.mark.parametrize(("mail_type", "mails"), [("BEGIN,END", 2), ("BEGIN,END,ARRAY_TASKS", 6)])
def test_an_array_mails_once_unless_it_asks_for_each_task(
    rig: Rig, sink: SmtpSink, mail_type: str, mails: int
) -> None:
    mailer = _mailer(rig, sink.port)
    tasks = _array(rig, mail_type)
    rig.step()
    rig.step()
    for task in tasks:
        rig.fake.finish(task, exit_code=1 if task == tasks[-1] else 0)
        rig.step()
    mailer.step()
    assert len(sink.subjects) == mails
    if mails == 2:
        assert sink.subjects == [
            f"aitc Array_job_id={tasks[0]} Name=train Began, Queued time 00:00:01",
            f"aitc Array_job_id={tasks[0]} Name=train Ended, Mixed, 2 COMPLETED, 1 FAILED",
        ]
    else:
        assert f"aitc Job_id={tasks[0]}_1 ({tasks[1]}) Name=train Began" in sink.subjects[1]


def test_smtp_down_then_up_loses_nothing_across_a_restart(rig: Rig) -> None:
    port = free_port()
    mailer = _mailer(rig, port, retry_s=60.0)
    job = _submit(rig, "BEGIN,END")
    rig.step()
    rig.step()
    rig.fake.finish(job)
    rig.step()
    assert len(mailer.step().retried) == 2  # nobody listens
    assert session_of(rig) == {"queued": 2}
    rig.clock.advance(30)
    assert mailer.step().retried == ()  # backing off
    rig.restart()  # a new controller and a new mailer on the same store
    sink = SmtpSink(port).start()
    try:
        mailer = _mailer(rig, port, retry_s=60.0)
        rig.clock.advance(30)
        assert len(mailer.step().sent) == 2
        assert [s.split(" Name=train ")[1][:5] for s in sink.subjects] == ["Began", "Ended"]
    finally:
        sink.stop()


def session_of(rig: Rig):  # type: ignore[no-untyped-def]
    class _Counts:
        def __eq__(self, other: object) -> bool:
            with rig.store.session() as s:
                return dict(mail_counts(session=s)) == other

    return _Counts()


def test_without_an_smtp_host_the_job_is_told_once(rig: Rig) -> None:
    mailer = _mailer(rig, None)
    job = _submit(rig, "ALL")
    rig.step()
    rig.step()
    assert mailer.step().dropped
    rig.fake.finish(job)
    rig.step()
    assert mailer.step().dropped
    notes = [cause for _, cause in rig.events(job) if cause.startswith("mail not sent")]
    assert notes == [f"mail not sent: {NO_SMTP}"]


def test_a_refused_address_is_not_tried_again(rig: Rig) -> None:
    class Refusing(SmtpSink):
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
            return "550 no such user"

    sink = Refusing().start()
    try:
        mailer = _mailer(rig, sink.port)
        job = _submit(rig, "BEGIN")
        rig.step()
        assert mailer.step().failed
        rig.clock.advance(10_000)
        assert mailer.step().failed == ()
        assert any("not sent: refused: 550" in cause for _, cause in rig.events(job))
    finally:
        sink.stop()
