"""A certificate for people: the credential rendered as an HTML page, a PDF and a PNG.

Everything shown is read from the signed credential (``facts``), so a rendering says no more
than the signature vouches for. The learner appears only as the holder: the credential names
them by a salted hash of their e-mail address; given the address (``email``), the rendering
prints it after checking it against that hash. The HTML page embeds the credential itself, so
the page can be verified; the PDF and PNG (matplotlib, as the reports are drawn) carry its id,
issuer and status list, so the credential can be found and checked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from aitc.errors import ConfigError  # noqa: E402

FORMATS = ("html", "pdf", "png")
INK, ACCENT, GREY = "#1d2330", "#25507a", "#3b4656"


@dataclass(frozen=True)
class Facts:
    """What a rendering shows, each taken from the credential."""

    course: str
    holder: str
    description: str
    criteria: str
    hours: str
    issuer: str
    issued: str
    details: tuple[tuple[str, str], ...]
    json: str


def _day(value: str) -> str:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%d %B %Y").lstrip("0")


def holder(credential: dict[str, Any], email: str | None) -> str:
    """The learner as the rendering names them: ``email`` once it matches the credential's
    salted hash (``ConfigError`` when it does not), else "the holder of this credential"."""
    if email is None:
        return "the holder of this credential"
    ids = credential["credentialSubject"].get("identifier") or []
    for i in ids:
        digest = hashlib.sha256((email.strip().lower() + str(i.get("salt", ""))).encode())
        if i.get("identityHash") == "sha256$" + digest.hexdigest():
            return email.strip()
    raise ConfigError(
        f"{email} is not the address this credential was issued to (its hash differs)",
        field="--email",
    )


def facts(credential: dict[str, Any], email: str | None = None) -> Facts:
    """What to show of a credential that has passed the schema check (``credentials``)."""
    achievement = credential["credentialSubject"]["achievement"]
    issuer = credential["issuer"]
    name = issuer.get("name", issuer.get("id")) if isinstance(issuer, dict) else str(issuer)
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else str(issuer)
    evidence = [e.get("description", "") for e in credential.get("evidence") or []]
    status = credential.get("credentialStatus") or {}
    details = [
        ("Session", "; ".join(e for e in evidence if e) or "-"),
        ("Credential", str(credential.get("id", "-"))),
        ("Issuer", str(issuer_id)),
        ("Valid from", str(credential["validFrom"])),
        ("Valid until", str(credential.get("validUntil", "no end"))),
        ("Status list", str(status.get("statusListCredential", "none (cannot be revoked)"))),
        ("Signature", f"{credential.get('proof', {}).get('cryptosuite', '-')}"),
    ]
    hours = achievement.get("creditsAvailable")
    return Facts(
        course=str(achievement.get("name", "")),
        holder=holder(credential, email),
        description=_unless_same(achievement.get("description"), achievement.get("name")),
        criteria=str((achievement.get("criteria") or {}).get("narrative", "")),
        hours=f"{hours:g}" if isinstance(hours, int | float) else "",
        issuer=str(name),
        issued=_day(str(credential["validFrom"])),
        details=tuple(details),
        json=json.dumps(credential, indent=2, ensure_ascii=False).replace("<", "\\u003c"),
    )


def to_html(f: Facts) -> str:
    env = Environment(
        loader=PackageLoader("aitc.control.courses", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    return env.get_template("certificate.html").render(c=f, completed=completed(f))


def figure(f: Facts) -> Figure:
    """The certificate on an A4 landscape page."""
    fig = plt.figure(figsize=(11.69, 8.27))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    for inset, width in ((0.025, 3.0), (0.037, 1.0)):
        ax.add_patch(
            Rectangle((inset, inset * 1.41), 1 - 2 * inset, 1 - 2.82 * inset, fill=False,
                      edgecolor=ACCENT, linewidth=width)
        )  # fmt: skip
    text = [
        (0.86, "CERTIFICATE OF ACHIEVEMENT", 15, ACCENT, "normal"),
        (0.77, f.course, 26, INK, "bold"),
        (0.69, "awarded to", 13, GREY, "normal"),
        (0.63, f.holder, 20, INK, "italic"),
        (0.55, _wrap(completed(f), 95), 12, INK, ""),
        (0.46, _wrap(f"Criteria: {f.criteria}", 100), 11, INK, ""),
        (0.39, f"Issued by {f.issuer} on {f.issued}", 12, INK, ""),
    ]
    for y, line, size, colour, style in text:
        ax.text(0.5, y, line, ha="center", va="center", fontsize=size, color=colour,
                family="serif", fontweight="bold" if style == "bold" else "normal",
                fontstyle="italic" if style == "italic" else "normal")  # fmt: skip
    for k, (label, value) in enumerate(f.details):
        y = 0.30 - k * 0.028
        ax.text(0.12, y, label, ha="left", va="center", fontsize=8.5, color=GREY, weight="bold")
        ax.text(0.25, y, value, ha="left", va="center", fontsize=8.5, color=INK, family="monospace")
    ax.text(0.5, 0.075, "A rendering of a signed Open Badges 3.0 credential: check the credential "
            "itself with `aitc course verify` or any eddsa-jcs-2022 verifier.",
            ha="center", va="center", fontsize=8, color=GREY)  # fmt: skip
    return fig


def _unless_same(description: Any, name: Any) -> str:
    """The description, unless it only repeats the name (a course without one)."""
    return "" if not description or description == name else str(description)


def completed(f: Facts) -> str:
    """The line that says what the holder did."""
    return f"for completing the course{_hours(f)}" + (f": {f.description}" if f.description else "")


def _hours(f: Facts) -> str:
    return f" ({f.hours} hours)" if f.hours else ""


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def write(f: Facts, stem: Path, formats: tuple[str, ...] = ("html", "pdf")) -> list[Path]:
    """Write ``stem.html``, ``stem.pdf`` and ``stem.png`` as ``formats`` asks."""
    written = []
    if "html" in formats:
        written.append(stem.with_suffix(".html"))
        written[-1].write_text(to_html(f), encoding="utf-8")
    drawn = [k for k in ("pdf", "png") if k in formats]
    if drawn:
        fig = figure(f)
        for kind in drawn:
            written.append(stem.with_suffix(f".{kind}"))
            # a fixed creation date: the same credential renders to the same bytes
            meta = {"CreationDate": None} if kind == "pdf" else {"Software": None}
            fig.savefig(written[-1], format=kind, dpi=110, metadata=meta)
        plt.close(fig)
    return written
