"""A member's Unix account in lab.yaml and in the roster CSV (unix_user, uid, gid)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitc.errors import ConfigError
from aitc.plan.lab import load_lab

LAB = """\
name: accounts
cluster: {reference_architecture: dgx-h100-superpod, sus: 1}
organisations:
  - {id: uni, name: University, kind: research, share: 1, projects: [{id: vision, name: Vision}]}
members:
  - {id: ana, name: Ana, email: ana@example.org, organisation: uni, role: member,
     unix_user: ana.lopez, uid: 5001, gid: 5000}
  - {id: ben, name: Ben, email: ben@example.org, organisation: uni, role: member}
roster: people.csv
"""

ROSTER = """\
id,name,email,organisation,role,projects,unix_user,uid,gid
cleo,Cleo,cleo@example.org,uni,member,vision,cleo2,6001,
dan,Dan,dan@example.org,uni,member,vision,,,
"""


def write(tmp_path: Path, lab: str = LAB, roster: str = ROSTER) -> Path:
    (tmp_path / "people.csv").write_text(roster)
    (tmp_path / "lab.yaml").write_text(lab)
    return tmp_path / "lab.yaml"


def test_accounts_come_from_the_lab_and_the_roster_and_default_to_the_member_id(
    tmp_path: Path,
) -> None:
    members = {m.id: m for m in load_lab(write(tmp_path)).members}
    got = {mid: (m.account, m.uid, m.gid) for mid, m in members.items()}
    assert got == {
        "ana": ("ana.lopez", 5001, 5000),
        "ben": ("ben", None, None),
        "cleo": ("cleo2", 6001, None),
        "dan": ("dan", None, None),
    }


@pytest.mark.parametrize(
    ("lab", "roster", "message"),
    [
        (LAB.replace("ana.lopez", "-rf"), ROSTER, "members[0].unix_user"),
        (LAB.replace("5001", "-1"), ROSTER, "members[0].uid"),
        (LAB, ROSTER.replace(",6001,", ",x1,"), "people.csv:2: uid: must be an integer"),
    ],
)
def test_a_bad_account_field_is_named(tmp_path: Path, lab: str, roster: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_lab(write(tmp_path, lab, roster))
    assert message in str(err.value)
