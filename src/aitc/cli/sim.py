"""`aitc sim`: replay a trace (or a lab's generated workload) on a cluster under policies.

The command parses and checks its flags, then runs one simulation per policy, side by side in
worker processes (one per core), each writing its folder under ``--out``; with several policies
it also writes ``comparison.json`` and ``jct_cdf.png`` and prints a comparison table.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from aitc.cli import programme
from aitc.cli.output import Rows
from aitc.domain.cluster import Cluster
from aitc.errors import AitcError, ConfigError

if TYPE_CHECKING:
    from concurrent.futures import Future

    from aitc.domain.lab import Lab
    from aitc.twin.painter import Painter
    from aitc.twin.runner import SimResult

FORMATS = ("philly", "csv", "parquet", "lab")
_console = Console()
_progress = Console(stderr=True)  # progress bars: on the terminal, never in piped results


@dataclass(frozen=True)
class SimTask:
    """Everything one worker process needs to run one policy (picklable)."""

    policy: str
    lab: Path | None
    cluster: Path | None
    ra: str | None
    nodes: int | None
    trace: Path | None
    fmt: str
    mapping: str | None
    limit: int | None
    seed: int
    days: float
    out: Path
    overhead_s: float | None
    leaf_penalty: float
    su_penalty: float
    tick_s: float | None
    params: tuple[tuple[str, str, Any], ...] = ()  # (policy or "", key, value)
    placement: str | None = None  # every policy's placement (None: the lab's, else topology)
    oracle: bool = False  # time limits = true runtimes
    where: tuple[str, ...] = ()  # row filters of a csv/parquet trace, COLUMN=VALUE[,VALUE]
    courses: bool = True  # with the lab's course sessions (--format lab)

    @property
    def label(self) -> str:
        """The run's name on its progress bar."""
        return self.policy if self.courses else f"{self.policy} (no courses)"


def register(app: typer.Typer) -> None:
    """Add ``aitc sim`` to the top-level app."""
    app.command("sim", help=_HELP)(sim)


_HELP = """Simulate a cluster under scheduling policies with the digital twin.

Give the cluster by a lab file (--lab), a cluster file (--cluster) or a reference
architecture and size (--ra NAME --nodes N), and the jobs by a trace (--trace, read as
--format philly, csv or parquet; csv/parquet take a --map) or, with --format lab, by the
lab's workload generator. Each policy of --policy writes jobs.parquet, summary.json and plots
into OUT/POLICY; several policies run side by side and are compared in OUT/comparison.json.

Example: aitc sim --ra dgx-h100-superpod --nodes 64 --trace
../shared/traces/philly/philly_jobs.csv.gz --policy fifo,backfill,tiresias --out runs/philly
"""


def sim(
    lab: Path | None = typer.Option(
        None,
        "--lab",
        help="lab.yaml: cluster, organisations, policy and (for --format lab) workloads.",
    ),
    cluster: Path | None = typer.Option(
        None,
        "--cluster",
        help="A cluster file (YAML), or a node-list CSV (*.csv: node, gpu_model, num_gpus, "
        "optional gpu_memory_gb, cpus, memory_gb, leaf, su, rack).",
    ),
    ra: str | None = typer.Option(
        None, "--ra", help="Reference architecture name (with --nodes), e.g. dgx-h100-superpod."
    ),
    nodes: int | None = typer.Option(None, "--nodes", help="Nodes of the --ra cluster."),
    trace: Path | None = typer.Option(
        None,
        "--trace",
        help="The job trace file, or the name of a trace shipped with aitc: philly (the "
        "Microsoft Philly trace, 82,247 jobs).",
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="philly, csv, parquet or lab "
        "(default: parquet by suffix, csv with --map, else philly).",
    ),
    mapping: str | None = typer.Option(
        None,
        "--map",
        help="Column mapping for csv/parquet, "
        "e.g. submit=creation_time,end=deletion_time,gpus="
        "num_gpu,tenant=qos (a unit may follow: end=t:ms); also cpus, memory, gpu_model, "
        "gpu_fraction (cpu_milli=COL and gpu_milli=COL for thousandths).",
    ),
    where: list[str] = typer.Option(
        [],
        "--where",
        help="Keep only the trace rows whose COLUMN holds one of the values, "
        "COLUMN=VALUE[,VALUE] (repeatable; every filter must hold), e.g. "
        "pod_phase=Succeeded,Failed.",
    ),
    max_rejected: int = typer.Option(
        0,
        "--max-rejected",
        help="Fail (exit 1) when more jobs than this were rejected as never able to run "
        "on the cluster; the message counts them by reason (default 0).",
    ),
    policy: str | None = typer.Option(
        None,
        "--policy",
        help="Policy name(s), comma-separated, or 'all' (default: the lab's policy, else fifo).",
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the N earliest jobs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the workload generator."),
    days: float = typer.Option(7.0, "--days", help="Days of jobs to generate (--format lab)."),
    out: Path = typer.Option(..., "--out", help="Folder for the results."),
    overhead: float | None = typer.Option(
        None,
        "--preempt-overhead",
        help="Seconds lost per preemption (checkpoint and restore; default 60).",
    ),
    leaf_penalty: float = typer.Option(
        0.05, "--leaf-penalty", help="Slowdown of a job spread across leaves (0.05 = 5 % longer)."
    ),
    su_penalty: float = typer.Option(
        0.15, "--su-penalty", help="Slowdown of a job spread across scalable units."
    ),
    tick: float | None = typer.Option(
        None,
        "--tick",
        help="Seconds between policy ticks (default: 300 for tiresias, none otherwise).",
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        help="A policy parameter, KEY=VALUE for "
        "every policy or POLICY.KEY=VALUE for one (repeatable), "
        "e.g. tiresias.preempt_running=any.",
    ),
    workers: int = typer.Option(
        0, "--workers", help="Processes for several policies (default: one per core)."
    ),
    placement: str | None = typer.Option(
        None,
        "--placement",
        help="Where jobs go, for every policy: topology (best fit in a node, leaf, SU), "
        "first_fit (lowest-numbered nodes) or pool (any free GPUs, no locality); "
        "default: the lab's, else topology.",
    ),
    oracle: bool = typer.Option(
        False,
        "--oracle",
        help="Each job's time limit is its true runtime (sjf and backfill see perfect "
        "estimates; nobody is killed at the limit).",
    ),
    courses: str = typer.Option(
        "with",
        "--courses",
        help="With --format lab: run with the lab's course sessions (with), without them "
        "(without), or both, comparing research wait (compare; the runs without them go to "
        "OUT/without-courses).",
    ),
) -> None:
    _quick_exit()
    trace, fmt = _bundled(trace, fmt)
    fmt = fmt or _guess_format(trace, mapping, lab)
    task = SimTask(
        "",
        lab,
        cluster,
        ra,
        nodes,
        trace,
        fmt,
        mapping,
        limit,
        seed,
        days,
        out,
        overhead,
        leaf_penalty,
        su_penalty,
        tick,
        tuple(_param(p) for p in param),
        placement,
        oracle,
        tuple(where),
    )
    _check(task)
    mode = programme.mode_of(courses, task.fmt)
    task = replace(task, courses=mode != "without")
    if max_rejected < 0:
        raise _bad("--max-rejected", f"must not be negative, got {max_rejected}")
    lab_policy = _lab_policy(lab) if lab else None  # every error of the lab, before any run
    try:
        policies = policy_names(policy, default=(lab_policy or "fifo",))
        out.mkdir(parents=True, exist_ok=True)
        runs = [replace(task, policy=p) for p in policies]
        if mode == "compare":
            runs += [replace(t, courses=False, out=out / "without-courses") for t in runs]
        summaries = _run_all(runs, workers)
        summaries, without = summaries[: len(policies)], summaries[len(policies) :]
    except AitcError as exc:
        typer.echo(f"aitc: sim: {exc}", err=True)
        raise typer.Exit(1) from None
    _render(summaries)
    if without:
        programme.render(summaries, without)
    if len(summaries) > 1:
        from aitc.twin.runner import write_comparison

        write_comparison(summaries, out)
    _console.print(f"results in {out}")
    _check_rejected(summaries, max_rejected)


@functools.cache  # once per process
def _quick_exit() -> None:
    """At exit, let the process end without the interpreter's last garbage collections.

    They walk every object still alive (numpy's, pyarrow's, the engine's: tens of thousands)
    more than once: 0.3 s after a 20,000-job run on the 2-core machine (0.5 s while other
    work ran on it), 0.03 s without them. By then the results are written and closed, and the
    operating system takes the memory back at once. Frozen objects are left out of those
    collections (``gc.freeze``); objects are still freed as their modules go."""
    atexit.register(gc.freeze)  # before the run registers its own: runs after them


def _painter(wanted: bool) -> AbstractContextManager[Painter | None]:
    """A process that draws plots (``twin.painter``), started now; none when not ``wanted``
    (runs in a pool of workers: each worker imports matplotlib once for all its runs)."""
    if not wanted:
        return nullcontext(None)
    from aitc.twin.painter import Painter

    return Painter()


def _check_rejected(summaries: list[dict[str, Any]], most: int) -> None:
    """Exit 1 when a run rejected more jobs than ``--max-rejected`` allows, by reason."""
    for s in summaries:
        rejected: dict[str, int] = s.get("mapping", {}).get("rejected", {})
        total = sum(rejected.values())
        if total > most:
            reasons = ", ".join(f"{n} {why}" for why, n in rejected.items())
            typer.echo(
                f"aitc: sim: {total} of {s['jobs_total']} jobs rejected under {s['policy']} "
                f"({reasons}), more than --max-rejected {most}; they can never run on this "
                "cluster (see mapping in summary.json; raise --max-rejected to accept them)",
                err=True,
            )
            raise typer.Exit(1)


def _bad(flag: str, message: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=f"'{flag}'")


def _check(t: SimTask) -> None:
    """Every flag that is wrong on its own or with the others: ``BadParameter`` (exit 2)."""
    _check_cluster(t.lab, t.cluster, t.ra, t.nodes)
    if t.fmt not in FORMATS:
        raise _bad("--format", f"{t.fmt!r} is not one of {', '.join(FORMATS)}")
    _check_trace(t.fmt, t.trace, t.lab, t.mapping)
    _check_where(t.fmt, t.where)
    if t.placement is not None:
        from aitc.engine.registry import PLACEMENTS

        if t.placement not in PLACEMENTS:
            known = ", ".join(PLACEMENTS)
            raise _bad("--placement", f"unknown placement {t.placement!r} (known: {known})")
    for flag, value in (("--limit", t.limit), ("--days", t.days), ("--tick", t.tick_s)):
        if value is not None and value <= 0:
            raise _bad(flag, f"must be positive, got {value}")
    negatives = (
        ("--leaf-penalty", t.leaf_penalty),
        ("--su-penalty", t.su_penalty),
        ("--preempt-overhead", t.overhead_s),
    )
    for flag, number in negatives:
        if number is not None and number < 0:
            raise _bad(flag, f"must not be negative, got {number}")


def _check_cluster(
    lab: Path | None, cluster: Path | None, ra: str | None, nodes: int | None
) -> None:
    given = [f for f, v in (("--lab", lab), ("--cluster", cluster), ("--ra", ra)) if v]
    if len(given) != 1:
        raise _bad(
            "--lab",
            "give exactly one of --lab FILE, --cluster FILE or --ra NAME "
            f"--nodes N (got {', '.join(given) or 'none'})",
        )
    if ra and (nodes is None or nodes < 1):
        raise _bad("--nodes", "--ra needs --nodes N with N >= 1")
    if nodes is not None and not ra:
        raise _bad("--nodes", "--nodes goes with --ra NAME")
    for flag, path in (("--lab", lab), ("--cluster", cluster)):
        if path is not None and not path.is_file():
            raise _bad(flag, f"no such file: {path}")


def _param(text: str) -> tuple[str, str, Any]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise _bad("--param", f"{text!r} is not KEY=VALUE or POLICY.KEY=VALUE")
    policy, _, name = key.strip().rpartition(".")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise _bad("--param", f"cannot read the value of {text!r}") from None
    return policy, name, value


def _bundled(trace: Path | None, fmt: str | None) -> tuple[Path | None, str | None]:
    """``--trace NAME`` of a trace shipped with aitc (when no file of that name exists)."""
    from aitc.twin.bundled import bundled_trace

    if trace is None or trace.exists():
        return trace, fmt
    found = bundled_trace(str(trace))
    return (found[0], fmt or found[1]) if found else (trace, fmt)


def _guess_format(trace: Path | None, mapping: str | None, lab: Path | None) -> str:
    if trace is None:
        return "lab" if lab else "philly"
    if trace.suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv" if mapping else "philly"


def _check_trace(fmt: str, trace: Path | None, lab: Path | None, mapping: str | None) -> None:
    if fmt == "lab":
        if lab is None:
            raise _bad("--format", "lab generates jobs from --lab FILE; give --lab")
        return
    if trace is None:
        raise _bad(
            "--trace",
            f"--format {fmt} reads a trace file; give --trace FILE (or "
            "--lab FILE --format lab to generate jobs)",
        )
    if fmt in ("csv", "parquet") and not mapping:
        raise _bad("--map", f"--format {fmt} needs --map submit=COL,gpus=COL,duration=COL,...")
    if mapping:
        from aitc.twin.colmap import parse_column_map

        try:
            parse_column_map(mapping)
        except ConfigError as exc:
            raise _bad("--map", exc.reason) from None


def _check_where(fmt: str, where: tuple[str, ...]) -> None:
    from aitc.twin.colmap import parse_where

    if where and fmt not in ("csv", "parquet"):
        raise _bad("--where", f"filters the rows of a csv or parquet trace, not --format {fmt}")
    for text in where:
        try:
            parse_where(text)
        except ConfigError as exc:
            raise _bad("--where", exc.reason) from None


def policy_names(text: str | None, *, default: Sequence[str]) -> list[str]:
    """The policies of ``--policy`` (comma-separated or ``all``), each known and named once."""
    from aitc.engine.registry import POLICIES

    if text is None:
        return list(default)
    names = list(POLICIES) if text.strip() == "all" else [p.strip() for p in text.split(",")]
    for name in names:
        if name not in POLICIES:
            raise _bad("--policy", f"unknown policy {name!r} (known: {', '.join(POLICIES)})")
    if not names or len(set(names)) != len(names):
        raise _bad("--policy", "name each policy once")
    return names


def _lab_policy(lab: Path) -> str:
    """The lab's policy; if the lab is not valid, every error (as ``aitc lab check`` and
    ``aitc serve`` report them) and exit 2."""
    from aitc.cli.lab import load_lab_or_exit

    return load_lab_or_exit(lab).policy.name


def _run_all(tasks: list[SimTask], workers: int) -> list[dict[str, Any]]:
    cores = os.cpu_count() or 1
    if len(tasks) == 1:
        with _Bars([tasks[0].label], shared=False) as bar:
            return [run_task(tasks[0], bar.callback(tasks[0].label), aside=cores > 1)]
    from concurrent.futures import ProcessPoolExecutor  # (a run of one policy needs none)

    procs = min(len(tasks), workers or cores)
    with (
        _Bars([t.label for t in tasks], shared=True) as bar,
        ProcessPoolExecutor(max_workers=procs) as pool,
    ):
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(run_task, t, bar.callback(t.label)) for t in tasks
        ]
        bar.wait(futures)
        return [f.result() for f in futures]


def run_task(task: SimTask, progress: Any = None, *, aside: bool = False) -> dict[str, Any]:
    """Load the cluster and the jobs, simulate one policy and write its folder (in a worker).
    With ``aside`` (a core to spare), its plots are drawn by a process started first, which
    imports matplotlib on that core while this one simulates (``twin.painter``)."""
    from aitc.twin.runner import write_run

    with _painter(aside) as painter:
        began = time.perf_counter()
        result = _simulate(task, progress)
        wall = time.perf_counter() - began
        if progress is not None:
            summary = result.summary
            progress(summary["makespan_s"], summary["jobs_total"], summary["events"])
        return write_run(result, task.out / task.policy, wall_s=wall, painter=painter)


def _simulate(task: SimTask, progress: Any) -> SimResult:
    from aitc.twin.load import open_source, settings
    from aitc.twin.requestmap import fit_source
    from aitc.twin.runner import simulate
    from aitc.twin.trace import Oracle

    cluster, lab = _load_cluster(task)
    source = open_source(
        task.fmt,
        task.trace,
        mapping=task.mapping,
        limit=task.limit,
        seed=task.seed,
        days=task.days,
        lab=lab,
        where=task.where,
        courses=task.courses,
    )
    source = fit_source(source, cluster)  # shares, GPU models, CPUs: onto this cluster
    if task.oracle:
        source = Oracle(source)
    lab_params = dict(lab.policy.params) if lab else {}
    params, config = settings(
        lab_params,
        overhead_s=task.overhead_s,
        leaf_penalty=task.leaf_penalty,
        su_penalty=task.su_penalty,
        tick_s=task.tick_s,
    )
    if lab is None or lab.policy.name != task.policy:  # lab parameters are for its policy,
        params = {k: v for k, v in params.items() if k in _EVERY_POLICY}  # but these
    if task.placement is not None:
        params["placement"] = task.placement
    params |= {key: value for policy, key, value in task.params if policy in ("", task.policy)}
    if task.oracle:
        config = replace(config, kill_at_time_limit=False)
    if progress is not None:
        progress(0.0, 0, 0, len(getattr(source, "columns", ())) or None)
    return simulate(cluster, source, task.policy, params=params, config=config, progress=progress)


# lab policy parameters that hold for every policy simulated, not only the lab's own
_EVERY_POLICY = ("preempt_overhead_s", "placement")


def _load_cluster(task: SimTask) -> tuple[Cluster, Lab | None]:
    if task.lab is not None:
        from aitc.plan.lab import load_lab

        lab = load_lab(task.lab)
        return lab.cluster, lab
    if task.cluster is not None:
        from aitc.arch.clusterfile import load_cluster

        return load_cluster(task.cluster), None
    from aitc.arch.builder import build

    assert task.ra is not None
    return build(task.ra, nodes=task.nodes).cluster, None


# ---------------------------------------------------------------------- progress and table
class _Bars:
    """One rich progress bar per policy: simulated days, jobs done, events per second.

    Worker processes report through a manager queue (``shared``); the main process drains it.
    """

    def __init__(self, policies: list[str], shared: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "jobs  {task.fields[day]:>7.1f} d simulated  {task.fields[rate]:>9,.0f} events/s"
            ),
            TimeElapsedColumn(),
            console=_progress,
            transient=False,
        )
        self.ids = {p: self.progress.add_task(p, total=None, day=0.0, rate=0.0) for p in policies}
        self.began = {p: time.perf_counter() for p in policies}
        if shared:
            from multiprocessing import Manager

            self._manager = Manager()
        else:
            self._manager = None
        self.queue: Any = self._manager.Queue() if self._manager else None

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._drain()
        self.progress.stop()
        if self._manager is not None:
            self._manager.shutdown()

    def callback(self, policy: str) -> Any:
        if self.queue is not None:
            return _Report(self.queue, policy)
        return lambda now, done, events, total=None: self.update(policy, now, done, events, total)

    def update(
        self, policy: str, now: float, done: int, events: int, total: int | None = None
    ) -> None:
        """Move the bar of ``policy``; ``total`` (jobs) is sent once, before the run."""
        if total is not None:
            self.progress.update(self.ids[policy], total=total)
        wall = max(time.perf_counter() - self.began[policy], 1e-9)
        self.progress.update(
            self.ids[policy], completed=done, day=now / 86400.0, rate=events / wall
        )

    def wait(self, futures: list[Future[dict[str, Any]]]) -> None:
        while not all(f.done() for f in futures):
            self._drain()
            time.sleep(0.2)

    def _drain(self) -> None:
        while self.queue is not None and not self.queue.empty():
            self.update(*self.queue.get())


@dataclass(frozen=True)
class _Report:
    """A picklable progress callback that forwards to the main process."""

    queue: Any
    policy: str

    def __call__(self, now: float, done: int, events: int, total: int | None = None) -> None:
        self.queue.put((self.policy, now, done, events, total))


def _render(summaries: list[dict[str, Any]]) -> None:
    """The comparison table: as wide as the terminal, or piped, plain with every cell in full."""
    columns = (
        "policy",
        "done",
        "rejected",
        "avg JCT h",
        "p99 JCT h",
        "avg wait h",
        "util %",
        "Jain",
        "preempt",
        "vs first",
        "wall s",
        "events/s",
    )
    title = "aitc sim: policies compared" if len(summaries) > 1 else ""
    table = Rows(columns, title=title, right=frozenset(columns[1:]))
    base = summaries[0].get("avg_jct_s") or 0.0
    for s in summaries:
        avg = s.get("avg_jct_s")
        table.add(
            s["policy"],
            f"{s['jobs_completed']:,}",
            f"{s['rejected_jobs']:,}",
            _h(avg),
            _h(s.get("p99_jct_s")),
            _h(s.get("avg_wait_s")),
            f"{100 * s['utilization']:.1f}",
            f"{s['jain_fairness']:.3f}",
            f"{s['preemptions']:,}",
            f"{avg / base:.2f}x" if avg and base else "-",
            f"{s['wall_s']:.1f}",
            f"{s['events'] / max(s['wall_s'], 1e-9):,.0f}",
        )
    table.print()


def _h(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}"
