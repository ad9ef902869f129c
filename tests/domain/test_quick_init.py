"""``quick_init`` makes the same instances as the dataclass's own ``__init__``."""

import dataclasses
from dataclasses import dataclass, field

import pytest

from aitc.domain.frozen import quick_init
from aitc.domain.job import JobRequest, MigSlot, NodeAlloc, Placement


def shaped(name: str) -> type:
    """A frozen, slotted dataclass with every kind of field quick_init handles."""

    def post_init(self) -> None:
        object.__setattr__(self, "e", self.a * 2)

    return dataclasses.make_dataclass(
        name,
        [
            ("a", int),
            ("b", str, field(default="b")),
            ("c", list, field(default_factory=list)),
            ("d", float, field(init=False, default=1.5)),
            ("e", int, field(init=False, compare=False)),
        ],
        namespace={"__post_init__": post_init},
        frozen=True,
        slots=True,
    )


CALLS = [((1,), {}), ((1, "x"), {}), ((1,), {"c": [3]}), ((), {"a": 2, "b": "y"})]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_it_builds_what_the_generated_init_builds(args, kwargs):
    generated, quick = shaped("Generated"), quick_init(shaped("Quick"))
    want, got = generated(*args, **kwargs), quick(*args, **kwargs)
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert got.e == want.e  # __post_init__ ran


def test_defaults_stay_fresh_required_fields_required_and_instances_frozen():
    quick = quick_init(shaped("Quick"))
    assert quick(1).c is not quick(1).c
    with pytest.raises(TypeError):
        quick()
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick(1).a = 2


def test_jobs_keep_their_derived_demand_equality_and_hash():
    job = JobRequest(1, "o", "p", "m", 4, 0.0)
    assert job.gpu_demand == 4.0
    assert dataclasses.replace(job, gpus=2).gpu_demand == 2.0
    assert JobRequest(2, "o", "p", "m", 0, 0.0, mig="3g.40gb").gpu_demand == pytest.approx(3 / 7)
    same = JobRequest(1, "o", "p", "m", 4, 0.0)
    assert job == same and hash(job) == hash(same)
    placement = Placement((NodeAlloc("n1", (0, 1)), NodeAlloc("n2", (), MigSlot(0, "1g.10gb", 0))))
    assert placement.nodes == ("n1", "n2") and placement.gpu_count == 2


def test_only_frozen_slotted_dataclasses():
    @dataclass
    class Loose:
        a: int

    with pytest.raises(TypeError, match="frozen dataclasses with slots"):
        quick_init(Loose)
