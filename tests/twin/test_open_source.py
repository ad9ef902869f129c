"""Opening sources by format name, with a lab's organisations, and splitting parameters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from twin_builders import cluster

from aitc.domain.lab import Lab
from aitc.domain.org import Organisation, OrgKind
from aitc.errors import ConfigError
from aitc.twin.load import open_source, settings


def test_a_trace_with_a_lab_takes_its_organisations_and_adds_unknown_tenants(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"t": [0, 1], "d": [5, 5], "g": [1, 1], "q": ["uni", "guest"]}).to_csv(path)
    lab = Lab("l", cluster(2), (Organisation("uni", "Uni", OrgKind.RESEARCH, 5.0, quota=8),))
    source = open_source("csv", path, mapping="submit=t,duration=d,gpus=g,tenant=q", lab=lab)
    orgs = {o.id: (o.share, o.quota) for o in source.organisations()}
    assert orgs == {"uni": (5.0, 8), "guest": (1.0, None)}
    assert [j.request.org for j in source.jobs()] == ["uni", "guest"]


def test_unknown_format_and_missing_mapping_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--format: unknown format 'xml'"):
        open_source("xml", tmp_path / "t.xml")
    with pytest.raises(ConfigError, match="--map: the csv format needs a column mapping"):
        open_source("csv", tmp_path / "t.csv")


def test_twin_parameters_leave_the_engine_parameters_and_flags_override() -> None:
    engine, cfg = settings(
        {"half_life_s": 3600, "preempt_overhead_s": 120, "tick_s": 30, "leaf_penalty": 0.2},
        overhead_s=90,
    )
    assert engine == {"half_life_s": 3600, "preempt_overhead_s": 90}
    assert (cfg.preempt_overhead_s, cfg.tick_s, cfg.half_life_s) == (90.0, 30, 3600.0)
    assert (cfg.locality.leaf_penalty, cfg.locality.su_penalty) == (0.2, 0.15)
