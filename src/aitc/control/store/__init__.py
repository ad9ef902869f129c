"""The control-plane store: SQL tables, migrations and the data-layer functions on them.

Open it with ``Store.open(url)`` (migrates to the latest schema); work in ``store.session()``
transactions and call the functions below with keyword arguments.
"""

from aitc.control.store.access import Caller, load_caller, visible_jobs
from aitc.control.store.cluster import NodeRecord, check_fits_cluster, list_nodes, upsert_nodes
from aitc.control.store.db import Store, create_db_engine, database_url, migrate
from aitc.control.store.jobs import (
    JobFilters,
    cancel_job,
    create_job,
    get_job,
    job_events,
    jobs_in_states,
    list_jobs,
    set_pending_reasons,
    transition,
)
from aitc.control.store.labsync import apply_lab
from aitc.control.store.models import (
    ApiTokenRow,
    JobEventRow,
    JobRow,
    MemberRow,
    NodeRow,
    OrganisationRow,
    ProjectRow,
    ReservationRow,
)
from aitc.control.store.reservations import list_reservations, put_reservation
from aitc.control.store.specs import (
    JobSpec,
    job_request,
    placement_from_json,
    placement_to_json,
    running_job,
)
from aitc.control.store.tokens import authenticate, bootstrap_admin, create_token, revoke_token

__all__ = [
    "ApiTokenRow",
    "Caller",
    "JobEventRow",
    "JobFilters",
    "JobRow",
    "JobSpec",
    "MemberRow",
    "NodeRecord",
    "NodeRow",
    "OrganisationRow",
    "ProjectRow",
    "ReservationRow",
    "Store",
    "apply_lab",
    "authenticate",
    "bootstrap_admin",
    "cancel_job",
    "check_fits_cluster",
    "create_db_engine",
    "create_job",
    "create_token",
    "database_url",
    "get_job",
    "job_events",
    "job_request",
    "jobs_in_states",
    "list_jobs",
    "list_nodes",
    "list_reservations",
    "load_caller",
    "migrate",
    "placement_from_json",
    "placement_to_json",
    "put_reservation",
    "revoke_token",
    "running_job",
    "set_pending_reasons",
    "transition",
    "upsert_nodes",
    "visible_jobs",
]
