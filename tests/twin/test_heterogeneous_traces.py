"""Heterogeneous traces: GPU shares, GPU models, CPUs and memory mapped onto a cluster by one
documented rule (``aitc.twin.requestmap``), empty optional cells, ``--where`` and empty files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS, GpuModel
from aitc.domain.node import NodeModel
from aitc.errors import TraceError
from aitc.twin.requestmap import fit_source, resolve_label, smallest_slice
from aitc.twin.runner import simulate
from aitc.twin.sources import load_table

A100, H100 = GPU_MODELS["A100-80GB"], GPU_MODELS["H100-80GB"]
T4 = GpuModel("T4", 16, 0.0, 0, 0, {})


def node(name: str, gpu: GpuModel, gpus: int, cpus: int = 0, ram: int = 0) -> Node:
    return Node(name, NodeModel(f"{gpu.name}x{gpus}", gpu, gpus, cpus, ram, 0.0, 0, 0, 0), 0, 0)


MIXED = Cluster("mixed", (node("a", A100, 8, cpus=64, ram=512), node("t", T4, 2, cpus=16)))
POD_MAP = "submit=t,duration=d,gpus=g,gpu_milli=milli,gpu_model=spec,cpu_milli=cpu,memory=mem:mib"


def pods(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "pods.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def pod(g: object = 1, milli: object = 1000, spec: object = "", cpu: object = 1000, **kw: object):
    return {"t": 0, "d": 60, "g": g, "milli": milli, "spec": spec, "cpu": cpu, "mem": 1024, **kw}


@pytest.mark.parametrize(
    ("gpu", "share", "profile"),
    [
        (A100, 0.1, "1g.10gb"),
        (A100, 0.125, "1g.10gb"),
        (A100, 0.2, "1g.20gb"),
        (A100, 0.25, "1g.20gb"),
        (A100, 0.3, "3g.40gb"),
        (A100, 0.5, "3g.40gb"),
        (A100, 0.6, None),  # only 7g.80gb holds it: a whole GPU
        (GPU_MODELS["A100-40GB"], 0.1, "1g.5gb"),
        (H100, 0.05, "1g.10gb"),
        (T4, 0.5, None),  # no MIG profiles
    ],
)
def test_a_share_takes_the_smallest_mig_slice_that_holds_it_by_memory(
    gpu: GpuModel, share: float, profile: str | None
) -> None:
    found = smallest_slice(gpu, share)
    assert (found.name if found else None) == profile


@pytest.mark.parametrize(
    ("label", "models", "resolved"),
    [
        ("A100-80GB", ("A100-80GB", "T4"), "A100-80GB"),
        ("a100", ("A100-80GB", "T4"), "A100-80GB"),
        ("t4", ("A100-80GB", "T4"), "T4"),
        ("V100M16|V100M32", ("V100M32", "T4"), "V100M32"),
        ("G3", ("A100-80GB", "T4"), "G3"),  # kept: the engine rejects it
    ],
)
def test_a_gpu_model_label_names_the_cluster_model_it_means(
    label: str, models: tuple[str, ...], resolved: str
) -> None:
    assert resolve_label(label, models) == resolved


def test_each_job_is_mapped_once_and_counted_by_how(tmp_path: Path) -> None:
    path = pods(
        tmp_path,
        [
            pod(milli=100, spec="A100"),  # 1g.10gb
            pod(milli=500, spec="A100"),  # 3g.40gb
            pod(milli=500, spec="T4"),  # no MIG: one whole T4
            pod(milli=500),  # any model, two models here: one whole GPU
            pod(g=2),  # whole GPUs as asked
            pod(spec="G3"),  # a model the cluster lacks
            pod(milli=500, spec="T4", cpu=32000),  # more CPUs than the T4 node has
            pod(g=3, spec="T4"),  # more T4s than the cluster has
        ],
    )
    source = fit_source(load_table(path, POD_MAP, fmt="csv"), MIXED)
    summary = simulate(MIXED, source, "fifo").summary
    assert summary["mapping"] == {
        "whole_gpus": 1,
        "mig": {"1g.10gb": 1, "3g.40gb": 1},
        "rounded_up_to_gpu": 2,
        "rejected": {"no_such_gpu_model": 1, "too_many_cpus": 1, "too_many_gpus": 1},
        "by_gpu_model": {"A100-80GB": 2, "G3": 1, "T4": 3, "any": 2},
    }
    assert summary["rejected_jobs"] == 3


def test_a_job_naming_no_model_on_a_one_model_cluster_takes_its_slice(tmp_path: Path) -> None:
    one = Cluster("one", (node("a", A100, 8),))
    path = pods(tmp_path, [pod(milli=250)])
    (job,) = fit_source(load_table(path, POD_MAP, fmt="csv"), one).jobs()
    assert (job.request.gpus, job.request.mig, job.request.gpu_model) == (0, "1g.20gb", "A100-80GB")


def test_memory_beyond_every_node_of_the_model_is_too_much_memory(tmp_path: Path) -> None:
    path = pods(tmp_path, [pod(spec="A100", mem=600 * 1024), pod(spec="A100", g=8)])
    summary = simulate(MIXED, fit_source(load_table(path, POD_MAP, fmt="csv"), MIXED), "fifo")
    assert summary.summary["mapping"]["rejected"] == {"too_much_memory": 1}


def test_empty_optional_cells_take_the_defaults_of_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    path.write_text(
        "t,d,g,milli,spec,cpu,mem,q,lim\n0,60,1,,,,,,\n5,60,1,250,A100,2000,8,LS,7200\n"
    )
    mapping = POD_MAP + ",tenant=q,time_limit=lim"
    jobs = list(fit_source(load_table(path, mapping, fmt="csv"), MIXED).jobs())
    assert [(j.request.org, j.request.gpus, j.request.mig, j.request.gpu_model) for j in jobs] == [
        ("default", 1, None, None),
        ("LS", 0, "1g.20gb", "A100-80GB"),
    ]
    assert [j.request.time_limit for j in jobs] == [3600.0, 7200.0]


def test_an_empty_start_means_the_job_ran_from_its_submit(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    path.write_text("c,s,e,g\n0,10,100,1\n20,,50,1\n")
    jobs = list(load_table(path, "submit=c,start=s,end=e,gpus=g", fmt="csv").jobs())
    assert [j.runtime for j in jobs] == [90.0, 30.0]


def test_an_empty_required_cell_is_an_error_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    path.write_text("c,e,g\n0,10,1\n5,,1\n")
    with pytest.raises(TraceError, match=r"row 2: column 'e': cannot read"):
        load_table(path, "submit=c,end=e,gpus=g", fmt="csv")


def test_a_header_only_trace_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pods.csv"
    path.write_text("t,d,g\n")
    with pytest.raises(TraceError, match=r"pods\.csv: no jobs: the file has a header but no rows"):
        load_table(path, "submit=t,duration=d,gpus=g", fmt="csv")


def test_a_trace_of_cpu_only_rows_is_an_error(tmp_path: Path) -> None:
    path = pods(tmp_path, [pod(g=0)])
    with pytest.raises(TraceError, match=r"no jobs: none of the 1 rows asks for a GPU"):
        load_table(path, POD_MAP, fmt="csv")


def test_where_keeps_only_rows_whose_column_holds_one_of_the_values(tmp_path: Path) -> None:
    rows = [pod(phase=p, t=i) for i, p in enumerate(["Succeeded", "Running", "Failed", "Pending"])]
    path = pods(tmp_path, rows)
    src = load_table(path, POD_MAP, fmt="csv", where=["phase=Succeeded,Failed", "g=1"])
    assert [j.request.submit for j in src.jobs()] == [0.0, 2.0]


def test_where_matching_nothing_is_an_error_naming_the_filter(tmp_path: Path) -> None:
    path = pods(tmp_path, [pod(phase="Running")])
    with pytest.raises(TraceError, match=r"none of the 1 rows matches --where phase=Succeeded"):
        load_table(path, POD_MAP, fmt="csv", where=["phase=Succeeded"])


def test_rows_left_out_by_where_keep_their_file_row_numbers_in_errors(tmp_path: Path) -> None:
    path = pods(tmp_path, [pod(phase="Running", d="?"), pod(phase="Done", d="x")])
    with pytest.raises(TraceError, match=r"row 2: column 'd'"):
        load_table(path, POD_MAP, fmt="csv", where=["phase=Done"])


def test_a_gpu_fraction_above_one_is_an_error(tmp_path: Path) -> None:
    path = pods(tmp_path, [pod(milli=1500)])
    with pytest.raises(TraceError, match=r"row 1: column 'milli': a GPU fraction of 1.5"):
        load_table(path, POD_MAP, fmt="csv")


def test_a_homogeneous_trace_is_not_remapped(tmp_path: Path) -> None:
    path = pods(tmp_path, [pod(g=2)])
    source = load_table(path, "submit=t,duration=d,gpus=g", fmt="csv")
    assert fit_source(source, MIXED) is source
