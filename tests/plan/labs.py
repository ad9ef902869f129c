"""A small lab for planning tests: a research group and a partner on 2 to 8 DGX H100 nodes.

The research group offers about 0.8 of eight nodes' GPU time, so two nodes are swamped and
eight keep up; the partner has a quota of 8 GPUs. One simulated day per run keeps a sweep of
a few seconds.
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
