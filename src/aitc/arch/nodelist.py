"""Node-list CSV files: a cluster as one row per node, as cluster traces publish it.

``aitc sim --cluster nodes.csv`` (and anything that reads a cluster file) takes a CSV whose
header names its columns; the names in brackets are accepted for the same column::

    node (sn, name)              the node's name                                   required
    gpu_model (model)            GPU model: a catalog name (H100-80GB, or the family H100)
                                 or any other name (P100, V100M16, T4, A10)       required
    num_gpus (num_gpu, gpus)     GPUs in the node; 0 for a CPU-only node, left out required
    gpu_memory_gb                memory of one GPU, for a model outside the catalog
    cpus (cpu_milli)             CPU cores (cpu_milli: thousandths of a core)
    memory_gb (memory_mib)       host memory
    leaf, su, rack               topology ids (default 0: every node on one leaf)

A model outside the catalog is described by its name, GPU count and memory alone: it has no
MIG profiles and no datasheet figures. Errors name the file, the line and the column.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS, GpuModel, match_gpu_model
from aitc.domain.node import NodeModel
from aitc.errors import CatalogError, ConfigError

# column -> (its canonical name, the factor to the canonical unit)
COLUMNS: dict[str, tuple[str, float]] = {
    "node": ("node", 1.0),
    "sn": ("node", 1.0),
    "name": ("node", 1.0),
    "gpu_model": ("gpu_model", 1.0),
    "model": ("gpu_model", 1.0),
    "num_gpus": ("num_gpus", 1.0),
    "num_gpu": ("num_gpus", 1.0),
    "gpus": ("num_gpus", 1.0),
    "gpu_memory_gb": ("gpu_memory_gb", 1.0),
    "cpus": ("cpus", 1.0),
    "cpu_milli": ("cpus", 1e-3),
    "memory_gb": ("memory_gb", 1.0),
    "memory_mib": ("memory_gb", 1024**2 / 1e9),
    "leaf": ("leaf", 1.0),
    "su": ("su", 1.0),
    "rack": ("rack", 1.0),
}
REQUIRED = ("node", "gpu_model", "num_gpus")


def is_node_list(path: str | Path) -> bool:
    """Whether ``path`` names a node-list CSV (``.csv`` or ``.csv.gz``), not a cluster file."""
    name = Path(path).name.lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


@dataclass(frozen=True, slots=True)
class _Row:
    file: str
    line: int
    cells: dict[str, tuple[str, str]]  # canonical name -> (column as written, text)

    def error(self, column: str, reason: str) -> ConfigError:
        written = self.cells.get(column, (column, ""))[0]
        return ConfigError(reason, file=self.file, line=self.line, field=written)

    def text(self, column: str) -> str:
        return self.cells.get(column, (column, ""))[1].strip()

    def number(self, column: str, default: float | None = None) -> float | None:
        text = self.text(column)
        if not text:
            if default is None and column in REQUIRED:
                raise self.error(column, "missing")
            return default
        try:
            value = float(text) * COLUMNS[self.cells[column][0]][1]
        except ValueError:
            raise self.error(column, f"{text!r} is not a number") from None
        if value < 0:
            raise self.error(column, f"must be >= 0, got {text}")
        return value


def load_node_list(path: str | Path) -> Cluster:
    """The cluster a node-list CSV describes (named after the file)."""
    p = Path(path)
    try:
        raw = gzip.decompress(p.read_bytes()) if p.name.lower().endswith(".gz") else p.read_bytes()
    except (OSError, gzip.BadGzipFile) as e:
        raise ConfigError(f"cannot read: {e}", file=str(p)) from None
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    header = [h.strip() for h in next(reader, [])]
    _check_header(header, str(p))
    models: dict[str, GpuModel] = {}
    nodes: list[Node] = []
    seen: dict[str, int] = {}
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        row = _Row(
            str(p), line, {COLUMNS[h][0]: (h, v) for h, v in zip(header, values, strict=False)}
        )
        node = _node(row, models)
        if node is None:
            continue
        if node.name in seen:
            raise row.error(
                "node", f"duplicate node name {node.name!r} (also line {seen[node.name]})"
            )
        seen[node.name] = line
        nodes.append(node)
    if not nodes:
        raise ConfigError("no node with GPUs: the file lists none", file=str(p), line=1)
    stem = p.name.split(".", 1)[0]
    return Cluster(stem, tuple(nodes))


def _check_header(header: list[str], file: str) -> None:
    if not header:
        raise ConfigError("empty node list: the header is missing", file=file, line=1)
    for h in header:
        if h not in COLUMNS:
            known = ", ".join(COLUMNS)
            raise ConfigError(f"unknown column (known: {known})", file=file, line=1, field=h)
    canonical = [COLUMNS[h][0] for h in header]
    for name in REQUIRED:
        if name not in canonical:
            raise ConfigError(f"the header needs a {name} column", file=file, line=1)
    twice = {c for c in canonical if canonical.count(c) > 1}
    if twice:
        raise ConfigError(f"{sorted(twice)[0]} is given by two columns", file=file, line=1)


def _node(row: _Row, models: dict[str, GpuModel]) -> Node | None:
    name = row.text("node")
    if not name:
        raise row.error("node", "missing")
    gpus = int(row.number("num_gpus") or 0)
    if gpus == 0:
        return None  # a CPU-only node: the twin schedules GPUs
    gpu = _gpu(row, models)
    cpus, memory = row.number("cpus", 0.0) or 0.0, row.number("memory_gb", 0.0) or 0.0
    model = NodeModel(f"{gpu.name}x{gpus}", gpu, gpus, round(cpus), round(memory), 0.0, 0, 0, 0)
    leaf, su, rack = (int(row.number(c, 0.0) or 0) for c in ("leaf", "su", "rack"))
    return Node(name, model, leaf, su, rack)


def _gpu(row: _Row, models: dict[str, GpuModel]) -> GpuModel:
    label = row.text("gpu_model")
    if not label:
        raise row.error("gpu_model", "missing (a node with GPUs needs their model)")
    memory = row.number("gpu_memory_gb", 0.0) or None
    try:
        found = match_gpu_model(label, GPU_MODELS, memory_gb=memory)
    except CatalogError as e:
        raise row.error("gpu_model", str(e)) from None
    if found is not None:
        return GPU_MODELS[found]
    known = models.setdefault(label, GpuModel(label, round(memory or 0), 0.0, 0, 0, {}))
    if memory is not None and known.memory_gb != round(memory):
        raise row.error(
            "gpu_memory_gb", f"{label} has {known.memory_gb} GB on an earlier line, here {memory:g}"
        )
    return known
