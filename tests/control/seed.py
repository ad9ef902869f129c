"""A small lab for control-plane tests: two research groups, a partner, a school; two nodes.

Members (id: role, organisation, projects):
    alice: member, uni, vision         bob: member, uni, nlp
    carol: instructor, uni, (none)     dave: learner, school, course
    erin: member, uni, vision          pat: partner, acme, health
    pia: partner, acme, health+vision  quinn: partner, globex, energy
    admin: admin, no organisation
"""

from __future__ import annotations

from aitc.control.clock import FakeClock
from aitc.control.store import NodeRecord, Store, apply_lab, create_token, upsert_nodes
from aitc.control.store.tokens import bootstrap_admin
from aitc.domain.cluster import Cluster
from aitc.domain.lab import Lab
from aitc.domain.org import Member, Organisation, OrgKind, Project, Role


def small_lab() -> Lab:
    orgs = (
        Organisation(
            "uni",
            "University",
            OrgKind.RESEARCH,
            2.0,
            (Project("vision", "Vision", "uni"), Project("nlp", "Language", "uni")),
        ),
        Organisation(
            "acme",
            "Acme Health",
            OrgKind.PARTNER,
            1.0,
            (Project("health", "Health", "acme"),),
            quota=4,
        ),
        Organisation(
            "globex",
            "Globex Energy",
            OrgKind.PARTNER,
            1.0,
            (Project("energy", "Energy", "globex"),),
            quota=4,
        ),
        Organisation(
            "school", "School", OrgKind.EDUCATION, 1.0, (Project("course", "Course", "school"),)
        ),
    )
    members = (
        Member("alice", "Alice", "alice@uni.example", "uni", Role.MEMBER, ("vision",)),
        Member("bob", "Bob", "bob@uni.example", "uni", Role.MEMBER, ("nlp",)),
        Member("carol", "Carol", "carol@uni.example", "uni", Role.INSTRUCTOR, ()),
        Member("dave", "Dave", "dave@school.example", "school", Role.LEARNER, ("course",)),
        Member("erin", "Erin", "erin@uni.example", "uni", Role.MEMBER, ("vision",)),
        Member("pat", "Pat", "pat@acme.example", "acme", Role.PARTNER, ("health",)),
        Member("pia", "Pia", "pia@acme.example", "acme", Role.PARTNER, ("health", "vision")),
        Member("quinn", "Quinn", "quinn@globex.example", "globex", Role.PARTNER, ("energy",)),
    )
    return Lab("test-lab", Cluster("rig", ()), orgs, members)


def seed(store: Store, clock: FakeClock) -> dict[str, str]:
    """Apply the small lab, record two 8-GPU H100 nodes, and return a token per member."""
    lab = small_lab()
    with store.session() as session:
        apply_lab(session=session, lab=lab)
        upsert_nodes(
            session=session,
            now=clock.now(),
            nodes=[NodeRecord("n1", 8, "H100-80GB"), NodeRecord("n2", 8, "H100-80GB")],
        )
        tokens = {"admin": bootstrap_admin(session=session, now=clock.now())}
        for m in lab.members:
            tokens[m.id] = create_token(
                session=session, member_id=m.id, name="test", now=clock.now()
            )[1]
    return tokens
