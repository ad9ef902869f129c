"""`aitc plan LAB` (short for `aitc plan sweep LAB`): report.html with embedded plots, plan.json
with the choice, its BOM and costs; targets, costs and plan read from lab.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labs import SMALL_LAB, write_small_lab
from typer.testing import CliRunner

from aitc.cli.main import app
from aitc.domain.targets import PartnerContract
from aitc.errors import ConfigError
from aitc.plan.lab import load_lab


def test_aitc_plan_writes_the_report_and_names_a_configuration(tmp_path: Path) -> None:
    lab = write_small_lab(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["plan", str(lab), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "choice: fairshare on" in result.output
    doc = json.loads((out / "plan.json").read_text())
    choice = doc["choice"]
    assert choice["policy"] == "fairshare" and choice["nodes"] in (4, 6, 8)
    assert choice["design"]["nodes"] == choice["nodes"] and choice["design"]["power_kw"] > 0
    assert choice["cost"]["capex"] > choice["nodes"] * 300000
    assert set(choice["charges"]["per_kind"]) == {"research", "partner"}
    assert choice["below"]["failing"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    assert all(
        (out / f"{name}.png").is_file() for name in ("targets", "utilisation", "waits", "shares")
    )


def test_a_lab_without_targets_is_refused(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(SMALL_LAB.split("targets:")[0])
    result = CliRunner().invoke(app, ["plan", "sweep", str(lab)])
    assert result.exit_code == 2
    assert "no targets" in result.output


def test_a_bad_step_names_the_flag(tmp_path: Path) -> None:
    lab = write_small_lab(tmp_path)
    result = CliRunner().invoke(app, ["plan", str(lab), "--step", "half"])
    assert result.exit_code == 2 and "--step" in result.output


def test_targets_costs_and_plan_are_read_from_lab_yaml(tmp_path: Path) -> None:
    lab = load_lab(write_small_lab(tmp_path))
    assert dict(lab.targets.max_wait_min) == {"research": 60.0, "partner": 30.0}
    assert lab.targets.partner_contract == PartnerContract(15.0, 0.9)
    assert lab.targets.min_utilisation == 0.3 and not lab.targets.workshop_seats
    assert lab.costs is not None and lab.costs.rate_card["partner"] == 3.0
    assert lab.plan.policies == ("fairshare",) and lab.plan.step == "2"


def test_an_unknown_organisation_kind_in_targets_is_an_error(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(SMALL_LAB.replace("research: 60, partner", "reserch: 60, partner"))
    with pytest.raises(ConfigError) as err:
        load_lab(lab)
    assert err.value.field == "targets.max_wait_min.reserch"


def test_the_example_lab_has_targets_costs_and_a_plan() -> None:
    lab = load_lab(Path(__file__).resolve().parents[2] / "examples" / "joint-lab.yaml")
    assert lab.targets.workshop_seats and lab.targets.partner_contract is not None
    assert lab.costs is not None and lab.plan.policies
