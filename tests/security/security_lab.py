"""The security tests' lab: members with real Unix accounts of their own."""

from __future__ import annotations

import subprocess

# Members of the security lab: (member id, Unix account, organisation, role, project)
PEOPLE = (
    ("alice", "aitc-sec-alice", "uni", "member", "vision"),
    ("pat", "aitc-sec-pat", "acme", "partner", "health"),
    ("dave", "aitc-sec-dave", "school", "learner", "course"),
)
ACCOUNT = {member: account for member, account, *_ in PEOPLE}

LAB = """\
name: security-lab
cluster:
  reference_architecture: dgx-h100-superpod
  sus: 1
policy:
  name: fifo
organisations:
  - {id: uni, name: University, kind: research, share: 2, projects: [{id: vision, name: Vision}]}
  - {id: acme, name: Acme Health, kind: partner, share: 1, projects: [{id: health, name: Health}]}
  - {id: school, name: School, kind: education, share: 1, projects: [{id: course, name: Course}]}
members:
"""


def lab_yaml() -> str:
    lines = [
        f"  - {{id: {m}, name: {m.title()}, email: {m}@example.org, organisation: {org}, "
        f"role: {role}, projects: [{project}], unix_user: {account}}}"
        for m, account, org, role, project in PEOPLE
    ]
    return LAB + "\n".join(lines) + "\n"


def ensure_user(name: str) -> None:
    """Create the local account ``name`` unless it exists (accounts are left for the next run)."""
    if subprocess.run(["getent", "passwd", name], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name],
            check=True,
            capture_output=True,
        )
