"""Small labs for planning tests, one simulated day per run so that a sweep takes seconds.

``SMALL_LAB``: a research group and a partner on 2 to 8 DGX H100 nodes. The research group
offers about 0.8 of eight nodes' GPU time, so two nodes are swamped and eight keep up; the
partner has a quota of 8 GPUs.

``SEATS_LAB``: a research group and a school whose course seats 28 learners on 1g.10gb
slices (4 GPUs) every Monday morning; on whole GPUs the seats take 28 GPUs, four nodes.

``HISTORY_LAB``: the organisations of the history that ``recorded.record`` makes through the
controller (uni, acme, globex), without a generated workload of their own.
"""

from __future__ import annotations

from pathlib import Path

SMALL_LAB = """\
name: small-plan-lab
cluster: {reference_architecture: dgx-h100-superpod, nodes: 2}
policy: {name: fairshare}
organisations:
  - id: group
    name: Research group
    kind: research
    share: 3
    workload: {jobs_per_day: 200, gpu_mix: {1: 5, 8: 3}, median_runtime_s: 3600,
               runtime_sigma: 1.0}
  - id: acme
    name: Acme (partner)
    kind: partner
    share: 1
    quota: 8
    workload: {jobs_per_day: 40, gpu_mix: {1: 1, 4: 1}, median_runtime_s: 1800}
targets:
  max_wait_min: {research: 60, partner: 30}
  partner_contract: {within_min: 15, share: 0.9}
  min_utilisation: 0.3
costs: {node: 300000, switch: 20000, rack: 10000, energy_per_kwh: 0.2, pue: 1.2,
        rate_card: {research: 1.0, partner: 3.0}}
plan: {policies: [fairshare], seeds: 2, days: 1, min_nodes: 2, max_nodes: 8, step: 2}
"""


def write_small_lab(folder: Path) -> Path:
    path = folder / "lab.yaml"
    path.write_text(SMALL_LAB)
    return path


SEATS_LAB = """\
name: seat-plan-lab
cluster: {reference_architecture: dgx-h100-superpod, nodes: 2}
policy: {name: fairshare}
organisations:
  - id: group
    name: Research group
    kind: research
    share: 3
    workload: {jobs_per_day: 100, gpu_mix: {1: 5, 8: 3}, median_runtime_s: 3600,
               runtime_sigma: 1.0}
  - id: school
    name: Workshops
    kind: education
    share: 1
    workload: {jobs_per_day: 20, gpu_mix: {1: 1}, median_runtime_s: 1800}
members:
  - {id: tina, name: Tina Teacher, email: tina@example.org, organisation: school,
     role: instructor}
courses:
  - {id: intro, name: Intro to deep learning, org: school, instructor: tina, seats: 28,
     mig_profile: 1g.10gb}
targets:
  max_wait_min: {research: 60, education: 30}
  workshop_seats: true
plan: {policies: [fairshare], seeds: 1, days: 1, min_nodes: 1, max_nodes: 8, step: 1}
"""

HISTORY_LAB = """\
name: history-plan-lab
cluster: {reference_architecture: dgx-h100-superpod, nodes: 1}
policy: {name: fifo}
organisations:
  - {id: uni, name: University, kind: research, share: 2}
  - {id: acme, name: Acme Health, kind: partner, share: 1, quota: 4}
  - {id: globex, name: Globex Energy, kind: partner, share: 1, quota: 4}
targets:
  max_wait_min: {research: 1, partner: 1}
plan: {policies: [fifo], seeds: 1, days: 1, min_nodes: 1, max_nodes: 4, step: 1}
"""


def write_lab(folder: Path, text: str) -> Path:
    path = folder / "lab.yaml"
    path.write_text(text)
    return path
