"""Plain data of aitc: GPU and node models, the cluster, jobs, organisations, reservations.

Imports the standard library only.
"""

from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS, GpuModel, MigProfile, gpu_model
from aitc.domain.ids import JobId
from aitc.domain.job import (
    JobRequest,
    JobState,
    MigSlot,
    NodeAlloc,
    Placement,
    Priority,
    RunningJob,
)
from aitc.domain.node import NODE_MODELS, NodeModel, node_model
from aitc.domain.org import Member, Organisation, OrgKind, Project, Role
from aitc.domain.reservation import Reservation

__all__ = [
    "GPU_MODELS",
    "NODE_MODELS",
    "Cluster",
    "GpuModel",
    "JobId",
    "JobRequest",
    "JobState",
    "Member",
    "MigProfile",
    "MigSlot",
    "Node",
    "NodeAlloc",
    "NodeModel",
    "OrgKind",
    "Organisation",
    "Placement",
    "Priority",
    "Project",
    "Reservation",
    "Role",
    "RunningJob",
    "gpu_model",
    "node_model",
]
