"""`aitc plan`: the smallest cluster that meets the lab's targets, and what-if replays.

``aitc plan LAB`` is short for ``aitc plan sweep LAB``; ``aitc plan replay`` replays the
recorded history of a running lab. Both are thin: parse, call ``aitc.plan``, render with rich.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from aitc.cli.output import Rows, config_failure, fail
from aitc.errors import ConfigError

_console = Console()


class _SweepByDefault(TyperGroup):
    """``aitc plan LAB …`` means ``aitc plan sweep LAB …``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["sweep", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_SweepByDefault,
    no_args_is_help=True,
    help="Size the cluster for the lab's targets (aitc plan LAB) and replay recorded history "
    "under another policy (aitc plan replay).",
)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="plan")


def _bad(flag: str, message: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=f"'{flag}'")


@app.command("sweep")
def sweep_cmd(
    lab: Path = typer.Argument(..., help="lab.yaml with targets (and optionally costs, plan)."),
    policy: str | None = typer.Option(
        None,
        "--policy",
        help="Policies to sweep, comma-separated, or 'all' "
        "(default: lab.yaml plan.policies, else the lab's policy).",
    ),
    seeds: int | None = typer.Option(
        None, "--seeds", help="Generated workload seeds per point (default 3; 0 with --history)."
    ),
    days: float | None = typer.Option(None, "--days", help="Days of generated jobs (default 3)."),
    ra: str | None = typer.Option(
        None,
        "--ra",
        help="Reference architectures (GPU generations) to size, comma-separated, or 'all' "
        "(every generation of the lab's kind of RA); default: the lab's.",
    ),
    mig: str | None = typer.Option(
        None,
        "--mig",
        help="MIG layouts of the course seats, comma-separated: lab (as lab.yaml), whole, "
        "1g, 2g, 3g, 4g, 7g, or 'all' (default: lab).",
    ),
    history: str | None = typer.Option(
        None,
        "--history",
        help="Also replay the recorded jobs of this store (a database URL, or the state "
        "directory of aitc serve) at every point.",
    ),
    since: str = typer.Option(
        "14d", "--since", help="With --history: jobs submitted since: 14d, 36h, or a date."
    ),
    min_nodes: int | None = typer.Option(None, "--min-nodes", help="Smallest size to try."),
    max_nodes: int | None = typer.Option(
        None, "--max-nodes", help="Largest size to try (default: 8 SUs or the RA's cap)."
    ),
    step: str | None = typer.Option(
        None, "--step", help="Size step: 'su' (whole scalable units, default) or N nodes."
    ),
    grid: bool = typer.Option(False, "--grid", help="Run every size instead of bisecting."),
    max_runs: int | None = typer.Option(None, "--max-runs", help="Run at most N simulations."),
    budget_s: float | None = typer.Option(
        None, "--budget-s", help="Start no new point after this many seconds."
    ),
    workers: int = typer.Option(0, "--workers", help="Worker processes (default: one per core)."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for report.html, plan.json and plots (default: plan-LABNAME)."
    ),
) -> None:
    """Find the smallest configuration meeting every target of lab.yaml, with confidence
    intervals.

    Sweeps sizes of the reference architecture (bisection per policy), and with --ra and
    --mig GPU generations and MIG layouts of the seats, and policies through the twin, over
    several seeds of the lab's generated workload and the recorded history (--history), in
    parallel processes. Writes OUT/report.html (plots embedded) and OUT/plan.json.
    Example: aitc plan examples/joint-lab.yaml --ra all --mig lab,whole
    """
    from aitc.plan import report, sweep
    from aitc.plan.lab import load_lab

    if not lab.is_file():
        raise _bad("LAB", f"no such file: {lab}")
    for flag, value in (
        ("--days", days),
        ("--max-runs", max_runs),
        ("--budget-s", budget_s),
        ("--min-nodes", min_nodes),
        ("--max-nodes", max_nodes),
    ):
        if value is not None and value <= 0:
            raise _bad(flag, f"must be positive, got {value}")
    if seeds is not None and (seeds < 0 or (seeds == 0 and history is None)):
        raise _bad("--seeds", f"must be at least 1 (0 only with --history), got {seeds}")
    try:
        spec = load_lab(lab)
    except ConfigError as exc:
        config_failure(exc)
    if spec.targets.empty:
        config_failure(
            ConfigError(
                "the lab has no targets; add a targets section (docs/plan.md)",
                file=str(lab),
                field="targets",
            )
        )
    p = spec.plan
    ladders = _ladders(spec, ra, mig, step or p.step, min_nodes or p.min_nodes, max_nodes)
    policies = _policies(policy, spec.plan.policies or (spec.policy.name,))
    recorded = _read_history(history, since, spec) if history is not None else None
    n_seeds, n_days = p.seeds if seeds is None else seeds, days or p.days
    _console.print(_describe(ladders, policies, n_seeds, n_days, recorded), soft_wrap=True)
    with _SweepBar() as bar:
        result = sweep(
            lab,
            ladders=ladders,
            policies=policies,
            seeds=n_seeds,
            days=n_days,
            history=recorded,
            workers=workers,
            max_runs=max_runs,
            budget_s=budget_s,
            grid=grid,
            progress=bar.update,
        )
    folder = out or Path(f"plan-{spec.name}")
    doc = report.write(result, folder)
    _render(result, doc)
    _console.print(f"report in {folder / 'report.html'}, figures in {folder / 'plan.json'}")


def _ladders(
    lab: Any, ra: str | None, mig: str | None, step: str, least: int | None, most: int | None
) -> dict[Any, tuple[int, ...]]:
    """The sizes to try of each configuration (RA x MIG layout), or a usage error."""
    from aitc.plan import size_ladder
    from aitc.plan.configs import Config, laid_out, parse_layouts, parse_ras

    own = lab.cluster.reference_architecture
    if own is None and (ra is None or ra == "all"):
        raise _bad("--ra", "the lab's cluster names no reference architecture; give --ra NAME")
    try:
        ras = parse_ras(ra, own)
        layouts = parse_layouts(mig)
        ladders = {
            Config(r, m): size_ladder(
                r, step=step, min_nodes=least, most=most or lab.plan.max_nodes
            )
            for r in ras
            for m in layouts
        }
        for config in ladders:  # every layout must exist on every generation
            laid_out(lab, config)
    except ConfigError as exc:
        flag = {"max_nodes": "--max-nodes", "step": "--step", "mig": "--mig"}.get(
            exc.field or "", "--ra"
        )
        raise _bad(flag, exc.reason) from None
    return ladders


def _read_history(where: str, since: str, lab: Any) -> Any:
    """The recorded history of the store at ``where`` (URL or state directory)."""
    from aitc.control.history import open_engine, read_history

    url = _store_url(where, "--history")
    now = time.time()
    try:
        history = read_history(open_engine(url), since=parse_since(since, now), until=now)
    except Exception as exc:  # a wrong URL, an unreadable file: say which
        fail("--history", f"cannot read the store at {url}: {exc}")
    known = {o.id for o in lab.organisations}
    if not any(j.org in known for j in history.jobs):
        fail("--history", f"no jobs of the lab's organisations were submitted since {since}")
    return history


def _store_url(where: str, flag: str) -> str:
    """A database URL as given, or the SQLite file of a state directory."""
    if "://" in where:
        return where
    path = Path(where)
    if not (path / "aitc.db").is_file():
        raise _bad(flag, f"no aitc.db in {path} (give a database URL or a state directory)")
    return f"sqlite:///{(path / 'aitc.db').resolve()}"


def _describe(
    ladders: dict[Any, tuple[int, ...]],
    policies: list[str],
    seeds: int,
    days: float,
    history: Any,
) -> str:
    from aitc.plan.configs import describe

    swept = describe(ladders)
    work = [f"{seeds} seeds x {days:g} days"] if seeds else []
    if history is not None:
        work.append(f"the recorded history ({len(history.jobs)} jobs)")
    return f"sweeping {swept}; policies {', '.join(policies)}; {' and '.join(work)}"


def _policies(text: str | None, default: tuple[str, ...]) -> list[str]:
    from aitc.cli.sim import policy_names

    return policy_names(text, default=default)


class _SweepBar:
    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("runs"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),  # on the terminal, never in piped results
        )
        self.task = self.progress.add_task("runs", total=None, last="")

    def __enter__(self) -> _SweepBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, p: Any) -> None:
        last = ""
        if p.last is not None:
            verdict = "meets" if p.last.service_met else "fails"
            last = f"last: {p.last.policy} on {p.last.nodes} nodes {verdict} the service targets"
        self.progress.update(
            self.task, completed=p.runs_done, total=max(p.expected_runs, p.runs_started), last=last
        )


def _render(result: Any, doc: dict[str, Any]) -> None:
    many = len(result.configs) > 1
    heads = ["policy", "smallest nodes", "proven", "every target", "runs/s"]
    if many:
        heads = ["reference architecture", "seats", *heads, "power kW", "PFLOPS bf16"]
    table = Rows(  # as wide as the terminal; piped, plain with every cell in full
        heads,
        title="aitc plan: smallest size per " + ("search" if many else "policy"),
        right=frozenset(heads[3:]),
    )
    for o in doc["outcomes"]:
        row = [
            o["policy"],
            str(o["smallest"] or "-"),
            "yes" if o["proven"] else "no",
            "yes" if o["meets_all"] else "no",
            f"{doc['runs_per_s'] or 0:.2f}",
        ]
        if many:
            at = o["at_smallest"]
            power = f"{at['power_kw']:,.0f}" if at else "-"
            pflops = f"{at['peak_pflops_bf16']:,.0f}" if at else "-"
            row = [o["ra"], o["mig"], *row, power, pflops]
        table.add(*row)
    table.print()
    choice = result.choice
    if choice is None:
        _console.print("[red]no configuration in the sweep meets every target[/red]")
        return
    c = doc["choice"]
    where = f" of {c['ra']}, seats {c['mig']}" if many else ""
    heads = ["target", "value", "95 % interval", "limit", "met"]
    figs = Rows(
        heads,
        title=f"choice: {choice.policy} on {choice.nodes} nodes{where} ({c['gpus']} GPUs)",
        right=frozenset(heads[1:]),
    )
    for f in choice.figures:
        figs.add(
            f.label,
            _n(f.value),
            f"{_n(f.low)} - {_n(f.high)}",
            ("<= " if f.ceiling else ">= ") + _n(f.limit),
            "yes" if f.met else "NO",
        )
    figs.print()
    below = c["below"]
    if below:
        _console.print(f"{below['nodes']} nodes fail: {', '.join(below['failing'])}")
    d = c["design"]
    _console.print(
        f"BOM: {d['scalable_units']} SU of {c['gpu_model']}, {d['racks']} racks, "
        f"{d['power_kw']:,.1f} kW, {d['peak_pflops'].get('bf16', 0):,.1f} PFLOPS bf16"
    )
    if c["cost"]:
        k = c["cost"]
        _console.print(
            f"cost: capex {k['capex']:,.0f} {k['currency']}, {k['cost_per_year']:,.0f} "
            f"{k['currency']}/year, {k['cost_per_gpu_hour'] or 0:,.2f} {k['currency']} per "
            "delivered GPU-hour"
        )


def _n(x: float) -> str:
    if x != x or x in (float("inf"), float("-inf")):
        return "inf"
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


# ------------------------------------------------------------------------------ replay
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """``14d``, ``36h``, ``90m``, ``2w`` before ``now``, or an ISO date/time."""
    m = _DURATION.match(text.strip())
    if m:
        return now - float(m[1]) * _UNIT[m[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise _bad(
            "--since", f"{text!r} is neither a duration (14d, 36h, 90m) nor a date"
        ) from None


@app.command("replay")
def replay_cmd(
    policy: str = typer.Option(..., "--policy", help="The policy to compare with the live one."),
    since: str = typer.Option("14d", "--since", help="Jobs submitted since: 14d, 36h, or a date."),
    nodes: int | None = typer.Option(
        None, "--nodes", help="Replay the what-if on N nodes of --ra (default: the recorded nodes)."
    ),
    ra: str | None = typer.Option(
        None, "--ra", help="Reference architecture for --nodes (default: the lab's)."
    ),
    db: str | None = typer.Option(None, "--db", help="Database URL of the store (read only)."),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="State directory of aitc serve (its aitc.db)."
    ),
    lab: Path | None = typer.Option(
        None, "--lab", help="lab.yaml: the live policy's parameters and organisations."
    ),
    live_policy: str | None = typer.Option(
        None, "--live-policy", help="The live policy (default: the one the events name)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write replay.json into this folder."),
) -> None:
    """Replay the recorded jobs under the live policy (fidelity) and under --policy.

    Reads jobs and job_events of the store read-only, replays them in the twin and shows the
    difference per organisation, with how far the twin's start times are from the recorded.
    Example: aitc plan replay --since 14d --policy backfill --state-dir /var/lib/aitc
    """
    import json

    from aitc.control.history import open_engine, read_history
    from aitc.plan.replay import replay

    if (db is None) == (state_dir is None):
        raise _bad("--db", "give exactly one of --db URL or --state-dir DIR")
    url = db or _store_url(str(state_dir), "--state-dir")
    _policies(policy, ())
    now = time.time()
    lab_spec = None
    if lab is not None:
        from aitc.plan.lab import load_lab

        try:
            lab_spec = load_lab(lab)
        except ConfigError as exc:
            config_failure(exc)
    try:
        history = read_history(open_engine(url), since=parse_since(since, now), until=now)
    except Exception as exc:  # a wrong URL, an unreadable file: say which
        fail("--db" if db else "--state-dir", f"cannot read the store at {url}: {exc}")
    if not history.jobs:
        _console.print(f"no jobs were submitted since {since}")
        raise typer.Exit(0)
    live = live_policy or history.live_policy or (lab_spec.policy.name if lab_spec else "fifo")
    cluster = history.cluster or (lab_spec.cluster if lab_spec else None)
    if cluster is None:
        raise _bad("--lab", "the store records no nodes; give --lab with the cluster")
    whatif = None
    if nodes is not None:
        from aitc.arch.builder import build

        arch = ra or (lab_spec.cluster.reference_architecture if lab_spec else None)
        if arch is None:
            raise _bad("--ra", "--nodes needs --ra NAME (or --lab with a reference architecture)")
        whatif = build(arch, nodes=nodes).cluster
    params = dict(lab_spec.policy.params) if lab_spec and lab_spec.policy.name == live else {}
    orgs = lab_spec.organisations if lab_spec else None
    result = replay(
        history,
        policy=policy,
        live_policy=live,
        cluster=cluster,
        whatif_cluster=whatif,
        params=params,
        organisations=orgs,
    )
    _render_replay(result, len(history.jobs))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        doc = {
            "live_policy": live,
            "policy": policy,
            "jobs": len(history.jobs),
            "fidelity": result.fidelity.__dict__,
            "per_organisation": result.per_org,
        }
        (out / "replay.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _render_replay(r: Any, jobs: int) -> None:
    f = r.fidelity
    _console.print(
        f"{jobs} recorded jobs replayed under {r.live_policy} (live, {r.live_nodes} nodes) and "
        f"{r.policy} ({r.whatif_nodes} nodes)"
    )
    if f.jobs:
        _console.print(
            f"fidelity of the live replay over {f.jobs} started jobs: start error median "
            f"{f.median_abs_error_s:,.1f} s, p90 {f.p90_abs_error_s:,.1f} s; within 1 min "
            f"{100 * f.within_1_min:.1f} %, within 10 min {100 * f.within_10_min:.1f} %; "
            f"start order {'the same' if f.same_start_order else 'differs'}"
        )
    heads = [
        "organisation",
        "jobs",
        "recorded",
        r.live_policy,
        r.policy,
        "change",
        "GPU-h live",
        f"GPU-h {r.policy}",
    ]
    t = Rows(
        heads,
        title=f"mean wait per organisation: recorded, {r.live_policy} (twin), {r.policy}",
        right=frozenset(heads[1:]),
    )
    for row in r.per_org:
        t.add(
            row["organisation"],
            str(row["jobs"]),
            _m(row["recorded_mean_wait_s"]),
            _m(row["live_mean_wait_s"]),
            _m(row["whatif_mean_wait_s"]),
            _m(row["mean_wait_change_s"]),
            f"{row['live_gpu_hours']:,.1f}",
            f"{row['whatif_gpu_hours']:,.1f}",
        )
    t.print()


def _m(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:,.1f} min"
