"""``aitc course session create --check`` and the certificate endpoints at the lab's scale.

Builds a SQLite store with the example lab applied (its organisations, ~1,000 members, its
courses, its 31 nodes of 8 H100s), writes ``--jobs`` finished jobs over the last two weeks
(``aitc.control.report.history``), and times, each the best of ``--repeat`` runs:

- the check of one session of 30 ``1g.10gb`` seats two days ahead (two twin replays of the
  recorded jobs, with and without the session), against its baseline: one replay alone
  (``aitc plan replay`` does one), so the ratio says what the second replay and the rest cost;
- signing a status list (131,072 bits, GZIP, Ed25519) and verifying a credential against it.

Run: .venv/bin/python bench/session_check.py [--jobs 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "examples" / "joint-lab.yaml"
DAY = 86400.0


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from aitc.control.courses import impact, statuslist
    from aitc.control.courses.credentials import did_key, sign, verify
    from aitc.control.courses.sessions import SessionCreate
    from aitc.control.history import open_engine, read_history
    from aitc.control.report.history import write_history
    from aitc.control.store import NodeRecord, Store, apply_lab, upsert_nodes
    from aitc.control.store.access import Caller
    from aitc.control.store.cluster import recorded_cluster
    from aitc.domain.org import Role
    from aitc.plan.lab import load_lab
    from aitc.plan.replay import run, trace
    from aitc.plan.sessioncost import shifted

    lab, now = load_lab(LAB), time.time()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/aitc.db")
        with store.session() as s:
            apply_lab(session=s, lab=lab, now=now)
            nodes = [NodeRecord(n.name, n.gpus, n.gpu_model) for n in lab.cluster.nodes]
            upsert_nodes(session=s, nodes=nodes, now=now)
        write_history(store, jobs=args.jobs, start=now - 14 * DAY, stop=now, seed=1)
        start = now + 2 * DAY
        req = SessionCreate(
            "dli-fundamentals-dl", start, start + 3 * 3600, seats=30, instructors=("mokafor",)
        )
        admin = Caller("admin", Role.ADMIN, None, frozenset())
        policy = lab.policy

        def check() -> impact.SessionCheck:
            return impact.check_session(
                store=store, caller=admin, req=req, now=now, weeks=2, policy=policy
            )

        found = check()
        engine = open_engine(f"sqlite:///{tmp}/aitc.db")
        moved = shifted(read_history(engine, since=now - 14 * DAY, until=now), 14 * DAY)
        with store.session(readonly=True) as s:
            recorded = recorded_cluster(session=s)
        assert recorded is not None
        params, t0 = dict(policy.params), moved.jobs[0].submit

        def one_replay() -> object:
            return run(trace(moved), recorded, policy.name, policy.name, params, t0)

        t_check = best(args.repeat, check)
        t_replay = best(args.repeat, one_replay)
        print(
            f"--check of 30 seats against {found.cost.jobs:,} recorded jobs (2 weeks, "
            f"{len(lab.cluster.nodes)} nodes, {policy.name}): {t_check:.2f} s; one replay alone "
            f"{t_replay:.2f} s; ratio {t_check / t_replay:.2f}x (two replays and the rest)"
        )
        print(
            f"  cost found: {found.cost.extra_wait_h:,.1f} job-hours more waiting, "
            f"{found.cost.delayed_jobs} jobs delayed over a minute"
        )

        key = Ed25519PrivateKey.generate()
        url = statuslist.list_url("http://127.0.0.1:8600", 1)

        def signed_list() -> dict[str, object]:
            unsigned = statuslist.list_credential(
                url=url, issuer=did_key(key.public_key()), revoked=range(0, 131072, 97), now=now
            )
            return sign(unsigned, key, created=now)

        listed = signed_list()
        badge = sign(
            {
                "@context": ["https://www.w3.org/ns/credentials/v2",
                             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
                "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "issuer": {"id": did_key(key.public_key()), "type": ["Profile"], "name": "Lab"},
                "validFrom": datetime.fromtimestamp(now - DAY, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "credentialSubject": {"type": ["AchievementSubject"],
                                      "achievement": {"id": "urn:a", "type": ["Achievement"],
                                                      "name": "Intro", "description": "d",
                                                      "criteria": {"narrative": "n"}}},
                "credentialStatus": statuslist.entry("http://127.0.0.1:8600", 5),
            },
            key,
            created=now,
        )  # fmt: skip
        checker = statuslist.checker(lambda _url: listed)
        t_sign = best(args.repeat * 10, signed_list)
        t_verify = best(args.repeat * 10, lambda: verify(badge, now=now, status=checker))
        t_offline = best(args.repeat * 10, lambda: verify(badge, now=now))
        print(
            f"status list (131,072 bits, 1,352 revoked) built and signed: {1000 * t_sign:.1f} ms; "
            f"a credential verified with its status: {1000 * t_verify:.1f} ms, offline "
            f"{1000 * t_offline:.1f} ms (ratio {t_verify / t_offline:.1f}x)"
        )
        engine.dispose()
        store.close()


if __name__ == "__main__":
    main()
