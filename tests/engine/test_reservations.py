"""Reservations: held nodes are the owner's from the start; others leave in time or wait."""

import pytest
from engine_builders import Rig, cluster, jid, job, mig_start, on, reservation, start

from aitc.domain.job import Priority
from aitc.domain.reservation import Reservation
from aitc.engine import make_scheduler
from aitc.engine.reservations import Part, ReservationBook
from aitc.engine.view import Preempt
from aitc.engine.view import ReasonCode as R
from aitc.errors import ConfigError


def rig_with(res_start: float, now: float = 0.0) -> Rig:
    rig = Rig(cluster(2), now=now)
    rig.reservations.append(reservation("ws", "edu", res_start, res_start + 3600, nodes=["n2"]))
    rig.run_job(job("x", 8, limit=10_000.0), on(("n1", range(8))))
    return rig


def test_an_active_reservation_serves_only_its_organisation():
    rig = rig_with(0.0).submit(job("other", 4, org="lab"), job("mine", 4, org="edu"))
    assert make_scheduler("backfill").schedule(rig.view()) == [start("mine", ("n2", range(4)))]


def test_preemptible_jobs_of_others_are_preempted_when_it_starts():
    rig = Rig(cluster(2))
    rig.reservations.append(reservation("ws", "edu", 100.0, 200.0, nodes=["n2"]))
    squatter = job("p", 8, org="lab", priority=Priority.PREEMPTIBLE)
    rig.run_job(squatter, on(("n2", range(8))))  # allowed before the start: it is preemptible
    rig.now = 100.0
    assert make_scheduler("fifo").schedule(rig.view()) == [
        Preempt(squatter.id, "reservation ws starts")
    ]


@pytest.mark.parametrize(
    ("limit", "priority", "starts"),
    [
        (50.0, Priority.STANDARD, True),  # ends at t=50, before the reservation at t=100
        (500.0, Priority.STANDARD, False),  # would overlap the window: held back
        (None, Priority.STANDARD, False),  # no limit: planned with the default (1 day)
        (500.0, Priority.PREEMPTIBLE, True),  # may overlap: it will be preempted at t=100
    ],
)
def test_jobs_that_would_overlap_a_future_window_are_held_back(limit, priority, starts):
    rig = rig_with(100.0).submit(job("a", 8, org="lab", limit=limit, priority=priority))
    expected = [start("a", ("n2", range(8)))] if starts else []
    assert make_scheduler("backfill").schedule(rig.view()) == expected


def test_a_held_back_job_says_it_waits_for_a_reservation():
    rig = rig_with(100.0).submit(job("a", 8, org="lab", limit=500.0))
    why = make_scheduler("backfill").run(rig.view()).reasons()[rig.pending[0].id]
    assert [r.code for r in why] == [R.RESERVATION]
    assert "ws" in why[0].message


def test_the_engine_chooses_whole_nodes_for_a_reservation_without_nodes():
    rig = Rig(cluster(3))
    rig.reservations.append(reservation("ws", "edu", 0.0, 100.0, gpus=12))
    rig.submit(job("a", 16, org="lab"), job("b", 8, org="lab"))
    # 12 GPUs hold the last node (n3) and four GPUs of n2 (4-7): no 16 GPUs are left for a,
    # b takes n1
    assert make_scheduler("tiresias").schedule(rig.view()) == [start("b", ("n1", range(8)))]


def test_mig_seats_hold_only_the_gpus_they_fill():
    rig = Rig(cluster(2))
    rig.reservations.append(
        Reservation("lab", "edu", 0.0, 100.0, mig_profile="1g.10gb", mig_seats=14)
    )  # 7 seats per GPU: GPUs 6 and 7 of n2; the other six GPUs of n2 stay everyone's
    rig.submit(
        job("x", 8, org="lab"),
        job("y", 8, org="lab"),
        job("z", 6, org="lab"),
        job("s", mig="1g.10gb", org="edu"),
    )
    assert make_scheduler("tiresias").schedule(rig.view()) == [
        mig_start("s", "n2", 6, "1g.10gb", 0),  # the session's job first, on its own seats
        start("x", ("n1", range(8))),
        start("z", ("n2", range(6))),
    ]


def test_held_gpus_are_nobody_elses_in_the_window_and_lent_before_it():
    def rig_at(now: float, *jobs) -> Rig:
        rig = Rig(cluster(1), now=now)
        rig.reservations.append(
            Reservation("lab", "edu", 100.0, 200.0, mig_profile="1g.10gb", mig_seats=14)
        )
        return rig.submit(*jobs)

    # in the window: an 8-GPU job of another organisation does not fit, a 6-GPU one does
    rig = rig_at(100.0, job("big", 8, org="lab"), job("six", 6, org="lab", submit=100.0))
    assert make_scheduler("fifo", queue="greedy").schedule(rig.view()) == [
        start("six", ("n1", range(6)))
    ]
    # before it: a job that ends before the start, or a preemptible one, may borrow them
    short = job("short", 8, org="lab", limit=50.0)
    assert make_scheduler("fifo").schedule(rig_at(0.0, short).view()) == [
        start("short", ("n1", range(8)))
    ]
    long = job("long", 8, org="lab", limit=500.0)
    assert make_scheduler("fifo").schedule(rig_at(0.0, long).view()) == []


def test_a_preemptible_job_on_held_gpus_is_preempted_at_the_start_and_the_seats_used():
    rig = Rig(cluster(1))
    rig.reservations.append(
        Reservation("lab", "edu", 100.0, 200.0, mig_profile="1g.10gb", mig_seats=14)
    )
    scheduler = make_scheduler("fifo")
    rig.submit(job("borrow", 8, org="lab", priority=Priority.PREEMPTIBLE))
    assert rig.step(scheduler) == [start("borrow", ("n1", range(8)))]
    rig.now = 100.0
    rig.submit(job("seat", mig="1g.10gb", org="edu", submit=100.0))
    actions = rig.step(scheduler)
    assert [type(a).__name__ for a in actions] == ["Preempt", "Start"]
    assert actions[0].job_id == jid("borrow")
    assert actions[1] == mig_start("seat", "n1", 6, "1g.10gb", 0)
    # the borrower may not come back on the held GPUs while the session runs
    assert rig.step(scheduler) == []


def test_under_strict_fifo_a_job_blocked_by_a_session_does_not_hold_up_its_seats():
    rig = Rig(cluster(1), now=100.0)
    rig.reservations.append(
        Reservation("lab", "edu", 100.0, 200.0, mig_profile="1g.10gb", mig_seats=14)
    )
    # an 8-GPU research job first in line cannot start in the window (two GPUs are held)...
    rig.submit(job("research", 8, org="lab"), job("seat", mig="1g.10gb", org="edu", submit=1.0))
    # ...and the session's job behind it still starts on its seat
    assert make_scheduler("fifo").schedule(rig.view()) == [mig_start("seat", "n1", 6, "1g.10gb", 0)]


def test_a_reservation_changed_under_the_same_id_is_placed_afresh():
    rig, scheduler = Rig(cluster(2)), make_scheduler("fifo")
    rig.reservations.append(reservation("ws", "edu", 0.0, 100.0, nodes=["n2"]))
    rig.submit(job("a", 8, org="lab"))
    assert scheduler.schedule(rig.view()) == [start("a", ("n1", range(8)))]
    # deleted and made again with the same id on the other node: the same scheduler follows
    rig.reservations[:] = [reservation("ws", "edu", 0.0, 100.0, nodes=["n1"])]
    assert scheduler.schedule(rig.view()) == [start("a", ("n2", range(8)))]


def seats(rid: str, n: int, start: float = 0.0, end: float = 100.0, org: str = "edu"):
    return Reservation(rid, org, start, end, mig_profile="1g.10gb", mig_seats=n)


def test_seats_that_do_not_fill_a_gpu_hold_only_their_slices():
    """3 seats of 1g.10gb hold three slices of GPU 7, not the GPU: another organisation's
    slices take the rest of it, a 7-GPU job the other GPUs; an 8-GPU job does not fit."""
    [fence] = ReservationBook().fences(cluster(1), [seats("s", 3)], 0.0)
    assert fence.positions == () and fence.part == Part(0, 0, 0b111 << 56)
    rig = Rig(cluster(1))
    rig.reservations.append(seats("s", 3))
    rig.submit(
        job("big", 8, org="lab"),
        job("seven", 7, org="lab"),
        *(job(f"m{i}", mig="1g.10gb", org="lab") for i in range(4)),
        job("fifth", mig="1g.10gb", org="lab"),
    )
    actions = make_scheduler("fifo", queue="greedy").schedule(rig.view())
    assert actions[0] == start("seven", ("n1", range(7)))
    # the four slices of GPU 7 nobody holds, and no fifth slice: the session's three are its own
    assert actions[1:] == [mig_start(f"m{i}", "n1", 7, "1g.10gb", 3 + i) for i in range(4)]


def test_overlapping_sessions_share_a_gpu_slice_by_slice():
    book = ReservationBook()
    first, second = seats("a", 3), seats("b", 3, start=50.0, end=150.0)
    fences = book.fences(cluster(1), [first, second], 0.0)
    assert [f.part for f in fences] == [Part(0, 0, 0b111 << 56), Part(0, 0, 0b111000 << 56)]
    # a third overlapping one takes GPU 7's last slice if one seat is enough, else a new GPU
    third = seats("c", 1, start=60.0, end=70.0)
    fences = book.fences(cluster(1), [first, second, third], 0.0)
    assert fences[2].part == Part(0, 0, 0b1000000 << 56)
    fourth = seats("e", 2, start=60.0, end=70.0)
    fences = book.fences(cluster(1), [first, second, fourth], 0.0)
    assert fences[2].part == Part(0, 0, 0b11 << 48)
    # whole GPUs of a partly held node: never one another session holds slices of
    wide = seats("d", 14, start=60.0, end=70.0)
    fences = book.fences(cluster(1), [first, second, wide], 0.0)
    assert fences[2].part == Part(0, 0b01100000, 0)


def test_at_the_start_only_slices_on_the_held_slots_are_preempted():
    rig = Rig(cluster(1))
    rig.reservations.append(seats("s", 3, start=100.0, end=200.0))
    scheduler = make_scheduler("fifo", queue="greedy")
    rig.run_job(job("x", 7, org="lab", limit=10_000.0), on(("n1", range(7))))
    # before the window preemptible slices of another organisation take all of GPU 7
    rig.submit(
        *(job(f"p{i}", mig="1g.10gb", org="lab", priority=Priority.PREEMPTIBLE) for i in range(7))
    )
    started = rig.step(scheduler)
    assert len(started) == 7
    on_held = {a.job_id for a in started if a.placement.allocs[0].mig.start < 3}
    assert len(on_held) == 3  # (lent: they end before the start, or may be preempted)
    rig.now = 100.0
    actions = rig.step(scheduler)
    assert {a.job_id for a in actions if isinstance(a, Preempt)} == on_held


def test_seats_an_overlapping_session_leaves_no_slices_for_are_refused_with_the_reason():
    book = ReservationBook()
    first = seats("a", 54)  # 7 GPUs and 5 slices of GPU 0: two slices are left
    assert book.fences(cluster(1), [first], 0.0)[0].part == Part(0, 0b11111110, 0b11111)
    with pytest.raises(ConfigError) as refused:
        book.fences(cluster(1), [first, seats("b", 3, start=50.0)], 0.0)
    assert "needs 0 GPUs and 3 1g.10gb slices of one more GPU" in str(refused.value)
    later = seats("c", 2, start=50.0)  # two fit
    assert book.fences(cluster(1), [first, later], 0.0)[1].part == Part(0, 0, 0b1100000)
