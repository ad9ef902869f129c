"""The sweep as ``plan.json`` and a self-contained ``report.html`` (plots embedded as PNG).

The JSON holds every point run (each target figure with its 95 % interval), each search's
outcome (configuration and policy) with the bill of materials of its smallest size, and for the
choice its bill of materials, power, peak PFLOPS and costs. The HTML shows the same with four
plots: targets against size, utilisation against size, the wait distributions of the choice
and of the size below it, and the share each organisation received at the choice against its
entitlement.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from aitc.plan import plots
from aitc.plan.configs import Config, describe, design_of
from aitc.plan.cost import charges, price
from aitc.plan.search import Outcome, Point, SweepResult


def to_dict(result: SweepResult) -> dict[str, Any]:
    choice = result.choice
    return {
        "lab": result.lab.name,
        "configurations": [_config(c, result.ladders[c]) for c in result.configs],
        "policies": list(result.policies),
        "seeds": result.seeds,
        "days": result.days,
        "history": _history(result),
        "runs": result.runs,
        "wall_s": round(result.wall_s, 3),
        "runs_per_s": round(result.runs / result.wall_s, 3) if result.wall_s > 0 else None,
        "stopped": result.stopped,
        "outcomes": [_outcome(result, o) for o in result.outcomes],
        "choice": _choice(result, choice) if choice else None,
        "points": [_point(p) for p in result.points],
    }


def _config(c: Config, sizes: tuple[int, ...]) -> dict[str, Any]:
    return {"ra": c.ra, "mig": c.mig, "gpu_model": c.gpu.name, "sizes": list(sizes)}


def _history(result: SweepResult) -> dict[str, Any] | None:
    h = result.history
    if h is None:
        return None
    known = {o.id for o in result.lab.organisations}
    kept = sum(1 for j in h.jobs if j.org in known)
    return {"since": h.since, "until": h.until, "jobs": kept, "left_out": len(h.jobs) - kept}


def _outcome(result: SweepResult, o: Outcome) -> dict[str, Any]:
    size = None
    if o.smallest is not None:
        d = design_of(o.config.ra, o.smallest)
        point = result.point(o.policy, o.smallest, o.config)
        size = {
            "gpus": d.gpus,
            "power_kw": d.power_kw,
            "peak_pflops_bf16": d.peak_pflops.get("bf16", 0.0),
            "cost": price(d, result.lab.costs, point.utilisation if point else 0.0),
        }
    return {
        "ra": o.config.ra,
        "mig": o.config.mig,
        "policy": o.policy,
        "smallest": o.smallest,
        "proven": o.proven,
        "meets_all": o.meets_all,
        "at_smallest": size,
    }


def _point(p: Point) -> dict[str, Any]:
    return {
        "ra": p.config.ra,
        "mig": p.config.mig,
        "policy": p.policy,
        "nodes": p.nodes,
        "gpus": design_of(p.config.ra, p.nodes).gpus,
        "met": p.met,
        "service_met": p.service_met,
        "failing": p.failing,
        "utilisation": round(p.utilisation, 6),
        "figures": [f.to_dict() for f in p.figures],
        "wall_s": round(sum(r.wall_s for r in p.records), 3),
    }


def _choice(result: SweepResult, choice: Point) -> dict[str, Any]:
    design = design_of(choice.config.ra, choice.nodes)
    below = result.below(choice)
    return {
        "ra": choice.config.ra,
        "mig": choice.config.mig,
        "gpu_model": design.gpu_model,
        "policy": choice.policy,
        "nodes": choice.nodes,
        "gpus": design.gpus,
        "proven_smallest": result.outcome(choice.policy, choice.config).proven,
        "below": {"nodes": below.nodes, "failing": below.failing} if below else None,
        "design": design.to_dict(),
        "cost": price(design, result.lab.costs, choice.utilisation),
        "charges": charges(choice, result.lab, result.lab.costs),
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
        images["shares"] = plots.shares(choice, result.lab)
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
        f"<p>{e(describe(result.ladders))}; policies {', '.join(result.policies)}; "
        f"{e(_workloads(doc))}; {result.runs} runs in {result.wall_s:.0f} s"
        + (f"; <b>stopped early ({e(result.stopped)})</b>" if result.stopped else "")
        + ".</p>",
        _choice_html(doc),
        "<h2>Outcome per configuration and policy</h2>",
        _outcomes_html(doc),
        "<h2>Targets against size</h2>",
        _img(images["targets"], "targets against size"),
        "<h2>Utilisation</h2>",
        _img(images["utilisation"], "utilisation against size"),
    ]
    if "waits" in images:
        parts += ["<h2>Waits</h2>", _img(images["waits"], "wait distributions")]
    if "shares" in images:
        parts += [
            "<h2>Share received against entitlement</h2>",
            _img(images["shares"], "share received against entitlement"),
        ]
    parts += ["<h2>Every point</h2>", _points_html(result), "</body></html>"]
    return "\n".join(parts)


def _workloads(doc: dict[str, Any]) -> str:
    """The workloads of every point, in words."""
    parts = [f"{doc['seeds']} seeds of {doc['days']:g} days"] if doc["seeds"] else []
    h = doc["history"]
    if h is not None:
        days = (h["until"] - h["since"]) / 86400.0
        parts.append(f"the recorded history of {days:g} days ({h['jobs']} jobs)")
    return " and ".join(parts)


def _choice_html(doc: dict[str, Any]) -> str:
    c = doc["choice"]
    if c is None:
        return "<p class='no'><b>No configuration in the sweep meets every target.</b></p>"
    d = c["design"]
    rows = [
        ("reference architecture", c["ra"]),
        ("GPU", c["gpu_model"]),
        ("MIG layout of the seats", c["mig"]),
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
        f"<h2 class='ok'>Choice: {c['nodes']} nodes of {html.escape(c['ra'])} under "
        f"{html.escape(c['policy'])}</h2><table>{body}</table>{note}"
    )


def _outcomes_html(doc: dict[str, Any]) -> str:
    e = html.escape
    rows = [
        "<tr><th>reference architecture</th><th>seats</th><th>policy</th>"
        "<th>smallest size meeting service targets</th><th>proven smallest</th>"
        "<th>meets every target</th><th>GPUs</th><th>power (kW)</th><th>PFLOPS bf16</th>"
        "<th>capex</th></tr>"
    ]
    for o in doc["outcomes"]:
        s = o["at_smallest"] or {}
        capex = (s.get("cost") or {}).get("capex")
        rows.append(
            f"<tr><td>{e(o['ra'])}</td><td>{e(o['mig'])}</td><td>{e(o['policy'])}</td>"
            f"<td>{o['smallest'] or '-'}</td><td>{'yes' if o['proven'] else 'no'}</td>"
            f"<td>{'yes' if o['meets_all'] else 'no'}</td><td>{s.get('gpus', '-')}</td>"
            f"<td>{_num(s['power_kw']) if s else '-'}</td>"
            f"<td>{_num(s['peak_pflops_bf16']) if s else '-'}</td>"
            f"<td>{'-' if capex is None else f'{capex:,.0f}'}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _points_html(result: SweepResult) -> str:
    keys = list(dict.fromkeys(f.key for p in result.points for f in p.figures))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = [f"<tr><th>configuration</th><th>policy</th><th>nodes</th>{head}</tr>"]
    for p in result.points:
        cells = []
        for k in keys:
            f = p.figure(k)
            if f is None:
                cells.append("<td></td>")
                continue
            cls = "ok" if f.met else "no"
            cells.append(f"<td class='{cls}'>{_num(f.value)} [{_num(f.low)}, {_num(f.high)}]</td>")
        rows.append(
            f"<tr><td>{html.escape(p.config.label)}</td><td>{html.escape(p.policy)}</td>"
            f"<td>{p.nodes}</td>{''.join(cells)}</tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _num(x: float) -> str:
    if x != x or x in (float("inf"), float("-inf")):
        return "∞"
    return f"{x:,.3g}" if abs(x) < 10 else f"{x:,.0f}"
