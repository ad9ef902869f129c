"""One pass over a lab file names every error, each with its line; the policy is judged by the
engine's own rules, so what `load_lab` accepts the scheduler runs with."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import pytest

from aitc.arch.labfile import load_lab as read_lab_file
from aitc.engine.scheduler import Scheduler
from aitc.errors import ConfigError, ConfigErrors, each_error
from aitc.plan.lab import load_lab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "joint-lab.yaml"
ROSTER = ROOT / "examples" / "members.csv"


def edited(tmp_path: Path, lab: list[tuple[str, str]], roster: list[tuple[str, str]] = ()) -> Path:
    """A copy of the example lab and roster with each (old, new) edit made once."""
    for source, edits, name in ((EXAMPLE, lab, "lab.yaml"), (ROSTER, roster, "members.csv")):
        text = source.read_text(encoding="utf-8")
        for old, new in edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "lab.yaml"


def errors_of(path: Path) -> list[ConfigError]:
    with pytest.raises(ConfigError) as caught:
        load_lab(path)
    return list(each_error(caught.value))


def where(errors: list[ConfigError]) -> list[tuple[str, int | None, str | None]]:
    return [(Path(e.file or "").name, e.line, e.field) for e in errors]


def line_of(path: Path, text: str) -> int:
    return next(i for i, s in enumerate(path.read_text().splitlines(), 1) if text in s)


def test_a_lab_with_several_errors_reports_every_one_with_its_line_in_file_order(
    tmp_path: Path,
) -> None:
    lab = edited(
        tmp_path,
        [
            ("    half_life_s: 604800\n", "    half_life: 7d\n"),  # the engine's parameter
            ("    share: 15\n", "    share: -1\n"),  # a range
            ("    kind: vendor\n", "    kind: vendr\n"),  # a choice
            ("org: ai-gradschool,", "org: gradschool,"),  # a reference across keys
        ],
        [("kvaldez,Kim Valdez,kvaldez@", "kvaldez,Kim Valdez,kvaldez.")],  # a roster row
    )
    errors = errors_of(lab)
    assert where(errors) == [
        ("lab.yaml", line_of(lab, "half_life: 7d"), "policy.params.half_life"),
        ("lab.yaml", line_of(lab, "share: -1"), "organisations[1].share"),
        ("lab.yaml", line_of(lab, "kind: vendr"), "organisations[2].kind"),
        ("lab.yaml", line_of(lab, "org: gradschool,"), "courses[4].org"),
        ("members.csv", 4, "email"),
    ]
    assert errors[0].reason.startswith(
        "unknown parameter 'half_life' for policy 'fairshare'; did you mean 'half_life_s'?"
    )
    assert errors[3].reason == "unknown organisation 'gradschool'; did you mean 'ai-gradschool'?"
    assert errors[4].reason == "'kvaldez.aitc.example.com' is not an e-mail address"


def test_an_unknown_key_names_the_closest_allowed_key(tmp_path: Path) -> None:
    lab = edited(tmp_path, [("  sus: 1\n", "  sus: 1\n  sues: 2\n")])
    [error] = errors_of(lab)
    assert (error.field, error.line) == ("cluster.sues", line_of(lab, "sues: 2"))
    assert error.reason == (
        "unknown key; did you mean 'sus'? (allowed: reference_architecture, sus, nodes, file)"
    )


def test_references_to_an_item_that_fails_the_schema_are_not_reported_again(
    tmp_path: Path,
) -> None:
    # vendor-aitc fails the schema; its 14 members, its projects and its quota are not
    # reported as unknown or over: only the one real mistake is.
    lab = edited(tmp_path, [("    kind: vendor\n", "    kind: vendr\n")])
    assert where(errors_of(lab)) == [
        ("lab.yaml", line_of(lab, "kind: vendr"), "organisations[2].kind")
    ]


def test_the_same_error_in_many_rows_is_named_three_times_then_once_for_the_rest(
    tmp_path: Path,
) -> None:
    lab = edited(tmp_path, [("  - id: partner-energy\n", "  - id: partner-automotive\n")])
    errors = errors_of(lab)
    energy = [
        n for n, row in enumerate(ROSTER.read_text().splitlines(), 1) if ",partner-energy," in row
    ]
    assert len(energy) == 48
    assert errors[0].field == "organisations[5].id"
    assert [e.line for e in errors[1:]] == energy[:4]
    assert errors[4].reason.endswith(f"(and the same on 44 more lines: {energy[4]}-{energy[-1]})")


@pytest.mark.parametrize(
    ("policy", "params", "field"),
    [
        ("fairshare", {"half_life": "7d"}, "policy.params.half_life"),
        ("fairshare", {"half_life_s": "7d"}, "policy.params.half_life_s"),
        ("fairshare", {"half_life_s": 0}, "policy.params.half_life_s"),
        ("backfill", {"queue": "fastest"}, "policy.params.queue"),
        ("tiresias", {"thresholds": [7200, 3600]}, "policy.params.thresholds"),
        ("tiresias", {"preempt_running": "sometimes"}, "policy.params.preempt_running"),
        ("fifo", {"placement": "anywhere"}, "policy.params.placement"),
        ("quota", {"preempt": "yes"}, "policy.params.preempt"),
    ],
)
def test_load_lab_refuses_the_policy_parameters_the_scheduler_refuses(
    tmp_path: Path, policy: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as by_engine:
        Scheduler(policy, params=params)
    assert by_engine.value.field == field
    body = "".join(f"    {k}: {v!r}\n" for k, v in params.items()).replace("'", '"')
    lab = edited(
        tmp_path,
        [
            (
                "  name: fairshare\n  params:\n    half_life_s: 604800\n"
                "    preempt_overhead_s: 120\n",
                f"  name: {policy}\n  params:\n{body}",
            )
        ],
    )
    [error] = errors_of(lab)
    assert (error.field, error.reason) == (field, by_engine.value.reason)
    assert error.line == line_of(lab, f"    {field.rsplit('.', 1)[1]}:")


def test_driver_parameters_are_checked_with_the_policys(tmp_path: Path) -> None:
    lab = edited(
        tmp_path,
        [("    preempt_overhead_s: 120\n", "    preempt_overhead_s: 120\n    tick_s: -5\n")],
    )
    [error] = errors_of(lab)
    assert (error.field, error.reason) == ("policy.params.tick_s", "must be a number > 0 (got -5)")


def test_every_error_survives_a_trip_to_a_worker_process(tmp_path: Path) -> None:
    lab = edited(
        tmp_path, [("    share: 15\n", "    share: -1\n"), ("    kind: vendor\n", "    kind: x\n")]
    )
    with pytest.raises(ConfigErrors) as caught:
        load_lab(lab)
    back = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(back, ConfigErrors)
    assert str(back) == str(caught.value)
    assert [(e.file, e.line, e.field, e.reason) for e in back.errors] == [
        (e.file, e.line, e.field, e.reason) for e in caught.value.errors
    ]


def test_the_reader_judges_the_policy_with_the_check_it_is_handed(tmp_path: Path) -> None:
    """The architecture layer does not import the engine: the policy check is an argument,
    and its errors, which name fields, are found at their lines in the file."""
    lab = edited(tmp_path, [])
    asked: list[tuple[str, dict[str, object]]] = []

    def check(name: str, params: Mapping[str, object]) -> list[ConfigError]:
        asked.append((name, dict(params)))
        return [ConfigError("not today", field="policy.params.preempt_overhead_s")]

    with pytest.raises(ConfigError) as caught:
        read_lab_file(lab, policy_check=check)
    assert asked == [("fairshare", {"half_life_s": 604800, "preempt_overhead_s": 120})]
    [error] = each_error(caught.value)
    assert (error.line, error.field, error.reason) == (
        line_of(lab, "preempt_overhead_s: 120"),
        "policy.params.preempt_overhead_s",
        "not today",
    )
    assert read_lab_file(lab, policy_check=lambda name, params: []) == load_lab(lab)
