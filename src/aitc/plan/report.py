"""The sweep as ``plan.json`` and a self-contained ``report.html`` (plots embedded as PNG).

The JSON holds every point run (each target figure with its 95 % interval), each policy's
outcome, and for the choice its bill of materials, power, peak PFLOPS and costs. The HTML shows
the same with three plots: targets against size, utilisation against size, and the wait
distributions of the choice and of the size below it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from aitc.plan import plots
from aitc.plan.cost import charges, design_of, price
from aitc.plan.search import Point, SweepResult


def to_dict(result: SweepResult) -> dict[str, Any]:
    choice = result.choice
    return {
        "lab": result.lab.name,
        "reference_architecture": result.ra,
        "sizes": list(result.sizes),
        "policies": list(result.policies),
        "seeds": result.seeds,
        "days": result.days,
        "runs": result.runs,
        "wall_s": round(result.wall_s, 3),
        "runs_per_s": round(result.runs / result.wall_s, 3) if result.wall_s > 0 else None,
        "stopped": result.stopped,
        "outcomes": {p: o.__dict__ for p, o in result.outcomes.items()},
        "choice": _choice(result, choice) if choice else None,
        "points": [_point(p) for p in result.points],
    }


def _point(p: Point) -> dict[str, Any]:
    return {
        "policy": p.policy,
        "nodes": p.nodes,
        "gpus": design_of(p.records[0].task.ra, p.nodes).gpus,
        "met": p.met,
        "service_met": p.service_met,
        "failing": p.failing,
        "utilisation": round(p.utilisation, 6),
        "figures": [f.to_dict() for f in p.figures],
        "wall_s": round(sum(r.wall_s for r in p.records), 3),
    }


def _choice(result: SweepResult, choice: Point) -> dict[str, Any]:
    design = design_of(result.ra, choice.nodes)
    below = result.below(choice)
    return {
        "policy": choice.policy,
        "nodes": choice.nodes,
        "gpus": design.gpus,
        "proven_smallest": result.outcomes[choice.policy].proven,
        "below": {"nodes": below.nodes, "failing": below.failing} if below else None,
        "design": design.to_dict(),
        "cost": price(design, result.lab.costs, choice.utilisation),
        "charges": charges(choice, result.lab, result.lab.costs, result.days),
    }


def write(result: SweepResult, out: Path) -> dict[str, Any]:
    """Write plan.json, report.html and the plots (also as PNG files) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    doc = to_dict(result)
    (out / "plan.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    images = _images(result)
    for name, png in images.items():
        (out / f"{name}.png").write_bytes(png)
    (out / "report.html").write_text(_html(result, doc, images))
    return doc


def _images(result: SweepResult) -> dict[str, bytes]:
    images = {"targets": plots.targets_vs_size(result), "utilisation": plots.utilisation(result)}
    choice = result.choice or (result.points[-1] if result.points else None)
    if choice is not None:
        shown = [choice] + [b for b in [result.below(choice)] if b is not None]
        kinds = {o.id: o.kind.value for o in result.lab.organisations}
        images["waits"] = plots.waits(shown, kinds)
    return images


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.ok{color:#176b2c}.no{color:#a61b1b}img{max-width:100%}"""


def _html(result: SweepResult, doc: dict[str, Any], images: dict[str, bytes]) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>aitc plan: {e(result.lab.name)}"
        f"</title><style>{STYLE}</style></head><body>",
        f"<h1>Capacity plan for {e(result.lab.name)}</h1>",
        f"<p>{e(result.ra)}, sizes {', '.join(map(str, result.sizes))} nodes; policies "
        f"{', '.join(result.policies)}; {result.seeds} seeds of {result.days:g} days; "
        f"{result.runs} runs in {result.wall_s:.0f} s"
        + (f"; <b>stopped early ({e(result.stopped)})</b>" if result.stopped else "")
        + ".</p>",
        _choice_html(doc),
        "<h2>Outcome per policy</h2>",
        _outcomes_html(result),
        "<h2>Targets against size</h2>",
        _img(images["targets"], "targets against size"),
        "<h2>Utilisation</h2>",
        _img(images["utilisation"], "utilisation against size"),
    ]
    if "waits" in images:
        parts += ["<h2>Waits</h2>", _img(images["waits"], "wait distributions")]
    parts += ["<h2>Every point</h2>", _points_html(result), "</body></html>"]
    return "\n".join(parts)


def _choice_html(doc: dict[str, Any]) -> str:
    c = doc["choice"]
    if c is None:
        return "<p class='no'><b>No size in the sweep meets every target.</b></p>"
    d = c["design"]
    rows = [
        ("policy", c["policy"]),
        ("nodes / GPUs", f"{c['nodes']} / {c['gpus']}"),
        ("scalable units", d["scalable_units"]),
        ("racks", d["racks"]),
        (
            "switches (leaf/spine/core)",
            "{leaf_switches}/{spine_switches}/{core_switches}".format(**d["compute_fabric"]),
        ),
        ("power (kW)", f"{d['power_kw']:,.1f}"),
        ("peak PFLOPS (bf16)", f"{d['peak_pflops'].get('bf16', 0):,.1f}"),
    ]
    if c["cost"]:
        k = c["cost"]
        cur = html.escape(k["currency"])
        rows += [
            ("capex", f"{k['capex']:,.0f} {cur}"),
            ("cost per year", f"{k['cost_per_year']:,.0f} {cur}"),
            ("cost per delivered GPU-hour", f"{k['cost_per_gpu_hour'] or 0:,.2f} {cur}"),
        ]
    if c["charges"]:
        rows.append(("charges per year (rate card)", f"{c['charges']['total_per_year']:,.0f}"))
    below = c["below"]
    note = f"<p>{below['nodes']} nodes fail: {', '.join(below['failing'])}.</p>" if below else ""
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return (
        f"<h2 class='ok'>Choice: {c['nodes']} nodes under {html.escape(c['policy'])}</h2>"
        f"<table>{body}</table>{note}"
    )


def _outcomes_html(result: SweepResult) -> str:
    rows = [
        "<tr><th>policy</th><th>smallest size meeting service targets</th>"
        "<th>proven smallest</th><th>meets every target</th></tr>"
    ]
    for o in result.outcomes.values():
        rows.append(
            f"<tr><td>{html.escape(o.policy)}</td><td>{o.smallest or '-'}</td>"
            f"<td>{'yes' if o.proven else 'no'}</td><td>{'yes' if o.meets_all else 'no'}"
            "</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _points_html(result: SweepResult) -> str:
    keys = list(dict.fromkeys(f.key for p in result.points for f in p.figures))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = [f"<tr><th>policy</th><th>nodes</th>{head}</tr>"]
    for p in result.points:
        cells = []
        for k in keys:
            f = p.figure(k)
            if f is None:
                cells.append("<td></td>")
                continue
            cls = "ok" if f.met else "no"
            cells.append(f"<td class='{cls}'>{_num(f.value)} [{_num(f.low)}, {_num(f.high)}]</td>")
        rows.append(f"<tr><td>{html.escape(p.policy)}</td><td>{p.nodes}</td>{''.join(cells)}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _num(x: float) -> str:
    if x != x or x in (float("inf"), float("-inf")):
        return "∞"
    return f"{x:,.3g}" if abs(x) < 10 else f"{x:,.0f}"
