"""A sweep over GPU generations and MIG layouts of the seats: the same jobs run faster on a
faster generation, seats keep their slice shape, seats on whole GPUs need a larger cluster
than on slices, a session a size cannot hold fails its seats, and the choice is the smallest
configuration meeting every target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labs import SEATS_LAB, write_lab
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.domain.gpu import GPU_MODELS
from aitc.errors import ConfigError
from aitc.plan import size_ladder, sweep
from aitc.plan.configs import (
    Config,
    generations,
    parse_layouts,
    parse_ras,
    slice_profile,
    speed,
    translate,
)
from aitc.plan.search import SweepResult

H100, H200, B200 = (GPU_MODELS[n] for n in ("H100-80GB", "H200-141GB", "B200-180GB"))
AS_WRITTEN = Config("dgx-h100-superpod", "lab")
WHOLE = Config("dgx-h100-superpod", "whole")
BLACKWELL = Config("dgx-b200-superpod", "lab")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lab(tmp_path_factory.mktemp("seats"), SEATS_LAB)


@pytest.fixture(scope="module")
def grid(lab: Path) -> SweepResult:
    sizes = size_ladder("dgx-h100-superpod", step="1", min_nodes=1, most=8)
    return sweep(
        lab,
        ladders={c: sizes for c in (AS_WRITTEN, WHOLE, BLACKWELL)},
        policies=["fairshare"],
        seeds=1,
        days=1,
        workers=2,
        grid=True,
    )


def test_speed_is_the_geometric_mean_of_compute_and_bandwidth() -> None:
    assert speed(H100, H100) == 1.0
    assert speed(H100, H200) == pytest.approx((4.8 / 3.35) ** 0.5)
    assert speed(H100, B200) == pytest.approx((2250 / 989.5 * 7.7 / 3.35) ** 0.5)
    assert speed(B200, H100) == pytest.approx(1 / speed(H100, B200))


def test_mig_profiles_keep_their_shape_across_generations() -> None:
    assert translate("1g.10gb", H100, H200) == "1g.18gb"
    assert translate("1g.20gb", H100, H200) == "1g.35gb"  # two memory slots stay two
    assert translate("3g.40gb", H100, B200) == "3g.90gb"
    assert translate("1g.10gb", H100, H100) == "1g.10gb" and translate(None, H100, B200) is None
    assert slice_profile("1g", B200) == "1g.23gb" and slice_profile("2g", H100) == "2g.20gb"


def test_the_lab_jobs_run_faster_by_the_generations_speed(grid: SweepResult) -> None:
    h100 = grid.point("fairshare", 8, AS_WRITTEN)
    b200 = grid.point("fairshare", 8, BLACKWELL)
    assert h100 is not None and b200 is not None
    ratio = h100.records[0].gpu_hours["group"] / b200.records[0].gpu_hours["group"]
    assert ratio == pytest.approx(speed(H100, B200), rel=0.01)


def test_seats_on_whole_gpus_need_a_larger_cluster_than_on_slices(grid: SweepResult) -> None:
    on_slices = grid.outcome("fairshare", AS_WRITTEN).smallest
    on_whole = grid.outcome("fairshare", WHOLE).smallest
    assert on_slices is not None and on_whole is not None and on_whole > on_slices


def test_a_session_the_size_cannot_hold_fails_its_seats(grid: SweepResult) -> None:
    tiny = grid.point("fairshare", 1, WHOLE)  # 28 whole-GPU seats on 8 GPUs
    assert tiny is not None
    seats = tiny.figure("seats")
    assert seats is not None and seats.value == 0.0 and "seats" in tiny.failing
    assert tiny.records[0].seat.sum() == 28


def test_every_search_is_monotone_in_size(grid: SweepResult) -> None:
    for config in grid.configs:
        points = [p for p in grid.points if p.config == config]
        passed = [p.service_met for p in points]
        assert passed == sorted(passed), config  # once met, met at every larger size


def test_the_choice_is_the_smallest_configuration_meeting_every_target(
    grid: SweepResult,
) -> None:
    choice = grid.choice
    assert choice is not None and choice.met
    smallest = min(o.smallest for o in grid.outcomes if o.meets_all and o.smallest)
    assert (choice.config, choice.nodes) == (BLACKWELL, smallest)
    below = grid.below(choice)
    assert below is not None and below.failing


def test_generations_and_layouts_are_named_or_refused() -> None:
    assert generations("dgx-h100-superpod") == (
        "dgx-a100-superpod",
        "dgx-h100-superpod",
        "dgx-h200-superpod",
        "dgx-b200-superpod",
    )
    assert parse_ras("all", "dgx-h100-basepod")[-1] == "dgx-b200-basepod"
    assert parse_layouts("lab,whole,1g") == ("lab", "whole", "1g")
    with pytest.raises(ConfigError) as err:
        parse_ras("dgx-z100-superpod", "dgx-h100-superpod")
    assert err.value.field == "ra"
    with pytest.raises(ConfigError) as err:
        parse_layouts("lab,5g")
    assert err.value.field == "mig" and "5g" in err.value.reason


def test_aitc_plan_compares_configurations(lab: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["plan", str(lab), "--ra", "dgx-h100-superpod,dgx-h200-superpod", "--mig"]
    args += ["lab,whole", "--step", "2", "--max-nodes", "6", "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "plan.json").read_text())
    assert [(c["ra"], c["mig"]) for c in doc["configurations"]] == [
        ("dgx-h100-superpod", "lab"),
        ("dgx-h100-superpod", "whole"),
        ("dgx-h200-superpod", "lab"),
        ("dgx-h200-superpod", "whole"),
    ]
    choice = doc["choice"]
    assert f"choice: fairshare on {choice['nodes']} nodes of {choice['ra']}" in result.output
    assert choice["design"]["power_kw"] > 0 and choice["design"]["peak_pflops"]["bf16"] > 0
    met = [o for o in doc["outcomes"] if o["meets_all"]]
    assert choice["nodes"] == min(o["smallest"] for o in met)
    assert all(o["at_smallest"]["gpus"] == 8 * o["smallest"] for o in met)


def test_a_bad_layout_names_the_flag(lab: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(lab), "--mig", "5g"])
    assert result.exit_code == 2
    assert "aitc: --mig: 5g: choose from lab, whole" in result.output
