"""One admission rule: the API accepts exactly the job shapes the twin accepts, on any cluster.

The twin admits a job of a trace when the engine's ``impossible_reason`` finds none
(``twin.runner._possible_on``); the API's ``check_fits_cluster`` asks the same rule about the
nodes the store records. Hypothesis draws clusters (GPU models, node sizes) and job shapes.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aitc.control.store import NodeRecord, NodeRow, Store, check_fits_cluster, upsert_nodes
from aitc.control.store.cluster import spec_request
from aitc.control.store.specs import JobSpec, check_spec_shape
from aitc.domain.cluster import Cluster, Node
from aitc.domain.gpu import GPU_MODELS
from aitc.domain.node import NodeModel
from aitc.errors import ConfigError
from aitc.twin.runner import _possible_on

MODELS = ("H100-80GB", "A100-40GB", "H200-141GB")
PROFILES = ("1g.10gb", "3g.40gb", "7g.80gb", "1g.5gb", "1g.18gb")
nodes = st.lists(
    st.tuples(st.sampled_from(MODELS), st.sampled_from((1, 2, 4, 8))), min_size=1, max_size=6
)
specs = st.builds(
    JobSpec,
    command=st.just(("true",)),
    gpus=st.one_of(st.none(), st.integers(0, 40)),
    nodes=st.one_of(st.none(), st.integers(1, 8)),
    mig=st.one_of(st.none(), st.sampled_from(PROFILES)),
    gpu_model=st.one_of(st.none(), st.sampled_from((*MODELS, "B200-180GB"))),
)


def _twin_cluster(shape: list[tuple[str, int]]) -> Cluster:
    """The same nodes as the twin builds them, from the catalog (not from the store)."""
    return Cluster(
        "twin",
        tuple(
            Node(f"n{i}", NodeModel(f"{g}x{m}", GPU_MODELS[m], g, 0, 0, 0.0, 0, 0, 0), 0, 0)
            for i, (m, g) in enumerate(shape)
        ),
    )


def _store(shape: list[tuple[str, int]]) -> Store:
    store = Store.open("sqlite://")
    records = [NodeRecord(f"n{i}", gpus, model) for i, (model, gpus) in enumerate(shape)]
    with store.session() as s:
        upsert_nodes(session=s, nodes=records, now=float(len(shape)))
    return store


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=nodes, spec=specs)
def test_the_api_accepts_exactly_what_the_twin_accepts(
    shape: list[tuple[str, int]], spec: JobSpec
) -> None:
    try:
        check_spec_shape(spec)  # malformed requests (both gpus and MIG, ...) never reach either
    except ConfigError:
        return
    store = _store(shape)
    try:
        with store.session() as s:
            try:
                check_fits_cluster(session=s, spec=spec)
                api = True
            except ConfigError as err:
                api = False
                assert err.field in ("gpus", "nodes", "mig", "gpu_model")
        twin = _possible_on(_twin_cluster(shape))(spec_request(spec))
        assert api == twin
    finally:
        store.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spec=specs)
def test_an_update_refuses_exactly_the_shapes_a_submission_refuses(
    store: Store, spec: JobSpec
) -> None:
    """The seeded lab's two 8-GPU H100 nodes; a pending 1-GPU job changed to ``spec``'s shape
    is refused when a submission of that shape is, with the same field and reason."""
    from seed import seed

    from aitc.control.clock import FakeClock
    from aitc.control.store import create_job, load_caller
    from aitc.control.store.update import JobChanges, update_job

    if spec.mig is not None:
        return  # a MIG profile is not something an update changes
    with store.session() as s:
        seeded = s.get(NodeRow, "n1") is not None
    if not seeded:
        seed(store, FakeClock())
    changes = JobChanges(gpus=spec.gpus, nodes=spec.nodes, gpu_model=spec.gpu_model)
    outcomes = []
    with store.session() as s:
        caller = load_caller(session=s, member_id="admin")
        try:
            create_job(session=s, spec=replace(spec, project="vision"), caller=caller, now=0)
            outcomes.append(None)
        except ConfigError as err:
            outcomes.append((err.field, err.reason))
        job, _ = create_job(
            session=s, spec=JobSpec(("true",), project="vision"), caller=caller, now=0
        )
        try:
            update_job(session=s, caller=caller, job_id=job.id, changes=changes, now=0)
            outcomes.append(None)
        except ConfigError as err:
            outcomes.append((err.field, err.reason))
        s.rollback()
    if changes.given():
        assert outcomes[0] == outcomes[1]
