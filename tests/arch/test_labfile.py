"""Reading lab.yaml: the example lab, the three cluster forms, inline members and the roster."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from aitc.domain.org import OrgKind, Role, WorkloadSpec
from aitc.errors import ConfigError
from aitc.plan.lab import load_lab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "joint-lab.yaml"

SMALL = """\
name: tiny
cluster:
{cluster}
organisations:
  - id: lab
    name: A small lab
    kind: research
    share: 1
    quota: 8
    projects: [{{id: p1, name: Project one}}]
members:
  - {{id: ann, name: Ann Example, email: ann@example.edu, organisation: lab, role: instructor}}
  - {{id: bob, name: Bob Example, email: bob@example.edu, organisation: lab, role: learner,
     projects: [p1]}}
courses:
  - {{id: intro, name: Intro, org: lab, instructor: ann, seats: 7, mig_profile: 1g.10gb}}
"""

NODE_LIST = """\
  nodes:
    - {name: n1, model: dgx-h100, leaf: 0, su: 0}
    - {name: n2, model: dgx-h100, leaf: 1, su: 0}"""


def write_lab(tmp_path: Path, cluster: str, name: str = "lab.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SMALL.format(cluster=cluster), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def example():  # type: ignore[no-untyped-def]
    return load_lab(EXAMPLE)


def test_example_lab_runs_on_one_scalable_unit_of_dgx_h100(example) -> None:  # type: ignore[no-untyped-def]
    cluster = example.cluster
    assert (cluster.reference_architecture, len(cluster), cluster.total_gpus) == (
        "dgx-h100-superpod",
        31,
        248,
    )
    assert cluster.gpu_models == ("H100-80GB",)


def test_example_lab_has_every_kind_of_organisation_and_quotas_fit(example) -> None:  # type: ignore[no-untyped-def]
    kinds = Counter(o.kind for o in example.organisations)
    assert kinds == {
        OrgKind.RESEARCH: 1,
        OrgKind.EDUCATION: 2,
        OrgKind.VENDOR: 1,
        OrgKind.PARTNER: 3,
    }
    partners = [o for o in example.organisations if o.kind is OrgKind.PARTNER]
    assert all(o.quota and o.borrow_limit for o in partners)
    assert sum(o.quota or 0 for o in example.organisations) <= example.cluster.total_gpus


def test_flagship_project_belongs_to_the_institute_whose_jobs_span_nodes(example) -> None:  # type: ignore[no-untyped-def]
    institute = example.org("ai-institute")
    assert "frontier-llm" in {p.id for p in institute.projects}
    assert isinstance(institute.workload, WorkloadSpec)
    assert max(gpus for gpus, _ in institute.workload.gpu_mix) > 8
    assert institute.workload.time_of_day is not None
    assert len(institute.workload.time_of_day) == 24


def test_example_roster_has_about_a_thousand_members_in_every_role(example) -> None:  # type: ignore[no-untyped-def]
    roles = Counter(m.role for m in example.members)
    assert 950 <= len(example.members) <= 1050
    assert 2 <= roles[Role.ADMIN] <= 6 and 8 <= roles[Role.INSTRUCTOR] <= 12
    assert roles[Role.MEMBER] > 100 and roles[Role.LEARNER] > 100
    partner_orgs = {o.id for o in example.organisations if o.kind is OrgKind.PARTNER}
    assert {m.org for m in example.members if m.role is Role.PARTNER} == partner_orgs
    assert all(m.email.split("@")[1].split(".")[-2] == "example" for m in example.members)


def test_example_courses_are_taught_by_instructors(example) -> None:  # type: ignore[no-untyped-def]
    instructors = {m.id for m in example.members if m.role is Role.INSTRUCTOR}
    assert example.courses and all(c.instructor in instructors for c in example.courses)
    assert example.policy.name == "fairshare"
    assert example.policy.params["half_life_s"] == 604800


def test_cluster_as_an_explicit_node_list(tmp_path: Path) -> None:
    lab = load_lab(write_lab(tmp_path, NODE_LIST))
    assert [(n.name, n.leaf, n.su) for n in lab.cluster] == [("n1", 0, 0), ("n2", 1, 0)]
    assert lab.cluster.distance("n1", "n2") == 2
    assert [m.id for m in lab.members] == ["ann", "bob"]
    assert lab.members[1].projects == ("p1",)
    assert lab.courses[0].mig_profile == "1g.10gb"


def test_cluster_as_a_reference_architecture_and_a_node_count(tmp_path: Path) -> None:
    lab = load_lab(write_lab(tmp_path, "  reference_architecture: dgx-h100-superpod\n  nodes: 4"))
    assert (len(lab.cluster), lab.cluster.total_gpus) == (4, 32)


def test_cluster_file_is_found_next_to_the_lab_file(tmp_path: Path) -> None:
    (tmp_path / "rig").mkdir()
    (tmp_path / "rig" / "cluster.yaml").write_text(
        "name: rig\nnodes:\n  - {name: a1, model: dgx-a100, leaf: 0, su: 0}\n", encoding="utf-8"
    )
    lab = load_lab(write_lab(tmp_path, "  file: rig/cluster.yaml"))
    assert [n.name for n in lab.cluster] == ["a1"]
    assert lab.cluster.gpu_models == ("A100-80GB",)


def test_error_in_the_cluster_file_names_the_cluster_file(tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text(
        "name: rig\nnodes:\n  - {name: a1, model: dgx-z9, leaf: 0, su: 0}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_lab(write_lab(tmp_path, "  file: cluster.yaml"))
    assert caught.value.file == str(tmp_path / "cluster.yaml")
    assert "dgx-z9" in str(caught.value)


def test_unknown_node_model_in_a_node_list_points_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_lab(
            write_lab(
                tmp_path,
                NODE_LIST.replace("leaf: 1", "leaf: 1, model: dgx-q1").replace(
                    "{name: n2, model: dgx-h100, ", "{name: n2, "
                ),
            )
        )
    assert (caught.value.line, caught.value.field) == (5, "cluster.nodes[1].model")
    assert "unknown node model 'dgx-q1'" in caught.value.reason


def test_mig_profile_must_exist_on_the_clusters_gpu(tmp_path: Path) -> None:
    path = write_lab(tmp_path, NODE_LIST.replace("dgx-h100", "dgx-a100-320gb"))
    path.write_text(path.read_text().replace("1g.10gb", "3g.40gb"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_lab(path)  # 3g.40gb exists on 80 GB parts, not on the A100 40 GB
    assert (caught.value.line, caught.value.field) == (18, "courses[0].mig_profile")
    assert "on A100-40GB (known: 1g.5gb, 1g.10gb, 2g.10gb" in caught.value.reason


def test_inline_member_error_points_at_its_line_in_the_lab_file(tmp_path: Path) -> None:
    path = write_lab(tmp_path, NODE_LIST)
    path.write_text(path.read_text().replace("role: learner", "role: guest"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_lab(path)
    assert (caught.value.line, caught.value.field) == (15, "members[1].role")


def test_a_lab_file_must_be_a_mapping(tmp_path: Path) -> None:
    for text, line in (("", None), ("- just\n- a list\n", 1)):
        (tmp_path / "lab.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_lab(tmp_path / "lab.yaml")
        assert caught.value.line == line
        assert "must be a mapping" in caught.value.reason


def test_missing_lab_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_lab(tmp_path / "nowhere.yaml")


def test_roster_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write_lab(tmp_path, NODE_LIST)
    path.write_text(path.read_text() + "roster: people.csv\n", encoding="utf-8")
    (tmp_path / "people.csv").write_bytes(
        b"id,name,email,organisation,role\ncy,Cy \xff,cy@example.edu,lab,member\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_lab(path)
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "people.csv"), 2)


def test_make_roster_rewrites_the_example_roster_byte_for_byte(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make-roster"
    out = tmp_path / "members.csv"
    subprocess.run(
        [sys.executable, str(script), "--out", str(out)], check=True, capture_output=True
    )
    assert out.read_bytes() == (ROOT / "examples" / "members.csv").read_bytes()
    other = tmp_path / "other.csv"
    subprocess.run(
        [sys.executable, str(script), "--out", str(other), "--seed", "7"],
        check=True,
        capture_output=True,
    )
    assert other.read_bytes() != out.read_bytes()


def test_the_small_example_in_the_docs_loads(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    text = doc.split("```yaml\n")[1].split("```")[0]
    (tmp_path / "lab.yaml").write_text(text, encoding="utf-8")
    lab = load_lab(tmp_path / "lab.yaml")
    assert (lab.name, lab.cluster.total_gpus, len(lab.members)) == ("tiny", 32, 2)


def test_a_self_referencing_alias_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text("name: &a [*a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_lab(tmp_path / "lab.yaml")
