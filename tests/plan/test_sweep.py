"""The sweep's rules: more nodes never make the service worse beyond noise; the bisection
finds the size the full grid finds; the chosen size meets every target and the one below
fails one; --max-runs bounds the sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from labs import write_small_lab

from aitc.plan import size_ladder, sweep
from aitc.plan.configs import Config
from aitc.plan.search import SweepResult

SIZES = size_ladder("dgx-h100-superpod", step="2", min_nodes=2, most=8)
H100 = Config("dgx-h100-superpod")
LADDERS = {H100: SIZES}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_lab(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def grid(lab: Path) -> SweepResult:
    return sweep(
        lab,
        ladders=LADDERS,
        policies=["fairshare", "backfill"],
        seeds=2,
        days=1,
        workers=2,
        grid=True,
    )


def test_the_ladder_steps_through_the_ra() -> None:
    assert SIZES == (2, 4, 6, 8)
    assert size_ladder("dgx-h100-superpod")[:3] == (31, 63, 95)


def test_more_nodes_never_worsen_a_service_target_beyond_noise(grid: SweepResult) -> None:
    for policy in grid.policies:
        points = [p for p in grid.points if p.policy == policy]
        assert [p.nodes for p in points] == list(SIZES)
        for small, big in zip(points, points[1:], strict=False):
            for f in small.figures:
                g = big.figure(f.key)
                assert g is not None
                if not f.service:
                    continue
                if f.ceiling:  # no higher than the smaller size's upper 95 % bound
                    assert g.value <= max(f.high, f.value) + 1e-9, (policy, f.key, small.nodes)
                else:
                    assert g.value >= min(f.low, f.value) - 1e-9, (policy, f.key, small.nodes)


def test_the_smallest_size_is_interesting(grid: SweepResult) -> None:
    fairshare = [p for p in grid.points if p.policy == "fairshare"]
    assert not fairshare[0].service_met and fairshare[-1].service_met


def test_bisection_finds_what_the_grid_finds_with_fewer_runs(lab: Path, grid: SweepResult) -> None:
    quick = sweep(
        lab,
        ladders=LADDERS,
        policies=["fairshare", "backfill"],
        seeds=2,
        days=1,
        workers=2,
    )
    for policy in grid.policies:
        assert quick.outcome(policy).smallest == grid.outcome(policy).smallest
        assert quick.outcome(policy).proven
    assert quick.runs < grid.runs


def test_the_choice_meets_every_target_and_the_size_below_fails_one(
    grid: SweepResult,
) -> None:
    choice = grid.choice
    assert choice is not None and choice.met
    assert all(f.met for f in choice.figures)
    below = grid.below(choice)
    assert below is not None and below.failing


def test_every_figure_has_a_confidence_interval_around_it(grid: SweepResult) -> None:
    for p in grid.points:
        for f in p.figures:
            assert f.low <= f.value <= f.high or f.value == float("inf"), (p.nodes, f)


def test_max_runs_bounds_the_sweep(lab: Path) -> None:
    cut = sweep(
        lab,
        ladders=LADDERS,
        policies=["fairshare"],
        seeds=2,
        days=1,
        workers=1,
        max_runs=3,
    )
    assert cut.runs == 2 and cut.stopped == "max-runs"


def test_a_zero_budget_runs_nothing(lab: Path) -> None:
    cut = sweep(
        lab,
        ladders=LADDERS,
        policies=["fairshare"],
        seeds=2,
        days=1,
        workers=1,
        budget_s=0.0,
    )
    assert cut.runs == 0 and cut.stopped == "budget" and cut.choice is None
