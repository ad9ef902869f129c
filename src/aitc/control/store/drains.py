"""Nodes an admin took out (``aitc node drain``, ``down``, ``resume``: Slurm's ``scontrol update
NodeName=X State=DRAIN|DOWN|RESUME Reason=...``) and a node's state as everyone sees it.

The executor reports each node's state (``nodes.state``, overwritten at every inventory); an
admin's state lives apart (``node_drains``) so that no report clears it, and survives restarts.
What counts is the worse of the two (down, then drain, then up), computed by ``node_status``
and nowhere else: the controller's books, the API and the web all ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aitc.control.store.models import NodeDrainRow, NodeRow
from aitc.errors import NotFoundError

ADMIN_STATES = ("drain", "down")
_SEVERITY = {"up": 0, "drain": 1, "down": 2}


@dataclass(frozen=True, slots=True)
class AdminState:
    """An admin's state for one node: ``drain`` (running jobs finish, nothing new starts) or
    ``down`` (running jobs are stopped and requeued too)."""

    state: str
    reason: str
    set_by: str
    set_at: float


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node's effective state (``up``, ``drain`` or ``down``) and why; ``set_by``/``set_at``
    name the admin who set it, None when it is the executor's."""

    state: str
    reason: str = ""
    set_by: str | None = None
    set_at: float | None = None

    @property
    def usable(self) -> bool:
        """Whether new jobs may start on the node."""
        return self.state == "up"

    def shown(self, busy: bool) -> str:
        """The state in Slurm's words: a drained node is ``draining`` while jobs still run on
        it, ``drained`` once it is empty."""
        if self.state != "drain":
            return self.state
        return "draining" if busy else "drained"


def node_status(reported: str, reason: str, admin: AdminState | None) -> NodeStatus:
    """The worse of the executor's state (``reported``, with its ``reason``) and the admin's;
    the admin's when they are as bad (it says who and when). A state the executor names that
    is not known here counts as down."""
    if admin is not None and _SEVERITY[admin.state] >= _SEVERITY.get(reported, 2):
        return NodeStatus(admin.state, admin.reason, admin.set_by, admin.set_at)
    return NodeStatus(reported, reason)


def admin_states(*, session: Session) -> dict[str, AdminState]:
    """Every node an admin took out, by name."""
    return {
        r.node: AdminState(r.state, r.reason, r.set_by, r.set_at)
        for r in session.scalars(select(NodeDrainRow))
    }


def node_statuses(*, session: Session) -> dict[str, NodeStatus]:
    """Every recorded node's effective state, by name."""
    admin = admin_states(session=session)
    rows = session.execute(select(NodeRow.name, NodeRow.state, NodeRow.reason))
    return {name: node_status(state, reason, admin.get(name)) for name, state, reason in rows}


def set_admin_state(
    *, session: Session, node: str, state: str, reason: str, by: str, now: float
) -> None:
    """Take ``node`` out (``state``: drain or down) or, with ``state`` ``resume``, give it back
    (the executor's state is what remains); ``NotFoundError`` for a node never recorded."""
    if session.get(NodeRow, node) is None:
        raise NotFoundError(f"no node {node!r} (see `aitc nodes`)")
    row = session.get(NodeDrainRow, node)
    if state == "resume":
        if row is not None:
            session.delete(row)
        return
    if state not in ADMIN_STATES:
        raise ValueError(f"unknown node state {state!r}")
    row = row or NodeDrainRow(node=node)
    row.state, row.reason, row.set_by, row.set_at = state, reason, by, now
    session.add(row)
