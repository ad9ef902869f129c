"""An in-memory executor for controller tests, shipped beside the real ones.

Like httpx's ``MockTransport``: it keeps the protocol's promises (idempotent ``start`` per
attempt, ``poll`` reports an ended attempt until the next ``poll`` acknowledges it, ``cancel``
ends a running attempt) without processes, and is fully deterministic. Tests drive it:
``finish(job_id)``, ``time_out(job_id)``, ``lose(job_id)``, ``fail_next_start(job_id)``,
``set_node_state(...)``, ``slow_stop`` with ``stop_cancelled()``; and read what happened:
``launches`` counts real launches per attempt, ``start_calls`` every call.

One ``FakeExecutor`` stands for the host: give the same object to a new controller to simulate
a controller restart while the "processes" keep running.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from aitc.control.executors.base import ExecJob, ExecReport, ExecStatus, NodeInfo, NodeState
from aitc.control.executors.gpus import virtual_gpus
from aitc.control.executors.registry import ExecutorSettings
from aitc.errors import ExecutorError

Key = tuple[int, int]


@dataclass
class FakeAttempt:
    job: ExecJob
    status: ExecStatus = ExecStatus.RUNNING
    exit_code: int | None = None
    cause: str = ""


def fake_nodes(count: int = 1, gpus: int = 8, model: str = "H100-80GB") -> tuple[NodeInfo, ...]:
    """``count`` nodes ``node0…`` with ``gpus`` virtual GPUs each."""
    return tuple(
        NodeInfo(name=f"node{i}", gpus=virtual_gpus(gpus, model, f"node{i}")) for i in range(count)
    )


class FakeExecutor:
    """Deterministic, in-memory executor."""

    name = "fake"

    def __init__(self, nodes: Sequence[NodeInfo] | None = None) -> None:
        self.nodes: list[NodeInfo] = list(nodes if nodes is not None else fake_nodes())
        self.attempts: dict[Key, FakeAttempt] = {}
        self.launches: Counter[Key] = Counter()
        self.start_calls: list[Key] = []
        self.cancel_calls: list[Key] = []
        self.signal_calls: list[tuple[int, int, str]] = []
        self.limit_calls: list[tuple[int, int, float]] = []
        self._failing: dict[int, str] = {}
        self._unacked: set[Key] = set()
        self._acked: set[Key] = set()
        self.slow_stop = False  # True: cancelled attempts run on until stop_cancelled()

    def inventory(self) -> Sequence[NodeInfo]:
        return tuple(self.nodes)

    def start(self, job: ExecJob) -> str:
        key = (job.job_id, job.attempt)
        self.start_calls.append(key)
        if job.job_id in self._failing:
            raise ExecutorError(self._failing.pop(job.job_id))
        if key not in self.attempts:
            self.attempts[key] = FakeAttempt(job)
            self.launches[key] += 1
        return f"fake-{job.job_id}.{job.attempt}"

    def poll(self) -> Sequence[ExecReport]:
        self._acked |= self._unacked
        self._unacked = set()
        out = []
        for key, a in sorted(self.attempts.items()):
            if key in self._acked:
                continue
            if a.status != ExecStatus.RUNNING:
                self._unacked.add(key)
            out.append(
                ExecReport(
                    job_id=key[0],
                    attempt=key[1],
                    handle=f"fake-{key[0]}.{key[1]}",
                    status=a.status,
                    exit_code=a.exit_code,
                    cause=a.cause,
                    nodes=a.job.placement.nodes,
                )
            )
        return out

    def cancel(self, job_id: int, attempt: int) -> None:
        self.cancel_calls.append((job_id, attempt))
        if not self.slow_stop:
            self._end(job_id, ExecStatus.CANCELLED, 143, "cancel requested", attempt, quiet=True)

    def signal(self, job_id: int, attempt: int, signal_words: str) -> bool:
        running = self.attempts.get((job_id, attempt))
        if running is None or running.status != ExecStatus.RUNNING:
            return False
        self.signal_calls.append((job_id, attempt, signal_words))
        return True

    def set_time_limit(self, job_id: int, attempt: int, seconds: float) -> bool:
        running = self.attempts.get((job_id, attempt))
        if running is None or running.status != ExecStatus.RUNNING:
            return False
        self.limit_calls.append((job_id, attempt, seconds))
        return True

    def stop_cancelled(self) -> None:
        """With ``slow_stop``: the attempts asked to stop have stopped now."""
        for job_id, attempt in self.cancel_calls:
            self._end(job_id, ExecStatus.CANCELLED, 143, "cancel requested", attempt, quiet=True)

    def close(self) -> None:
        """Nothing to release; the fake "processes" keep running."""

    # -- test controls ---------------------------------------------------------------------

    def running(self) -> list[Key]:
        return [k for k, a in sorted(self.attempts.items()) if a.status == ExecStatus.RUNNING]

    def finish(self, job_id: int, exit_code: int = 0, attempt: int | None = None) -> None:
        cause = "" if exit_code == 0 else f"exited with code {exit_code}"
        self._end(job_id, ExecStatus.EXITED, exit_code, cause, attempt)

    def time_out(self, job_id: int, attempt: int | None = None) -> None:
        self._end(job_id, ExecStatus.TIMEOUT, 137, "exceeded its time limit", attempt)

    def lose(
        self, job_id: int, cause: str = "process vanished", attempt: int | None = None
    ) -> None:
        self._end(job_id, ExecStatus.LOST, None, cause, attempt)

    def vanish(self, job_id: int) -> None:
        """Forget every attempt of ``job_id``, as if the host had been wiped."""
        for key in [k for k in self.attempts if k[0] == job_id]:
            del self.attempts[key]

    def fail_next_start(self, job_id: int, message: str = "cannot start: no such file") -> None:
        self._failing[job_id] = message

    def set_node_state(self, name: str, state: NodeState, reason: str = "") -> None:
        self.nodes = [
            replace(n, state=state, reason=reason) if n.name == name else n for n in self.nodes
        ]

    def _end(
        self,
        job_id: int,
        status: ExecStatus,
        code: int | None,
        cause: str,
        attempt: int | None,
        quiet: bool = False,
    ) -> None:
        keys = [k for k in self.attempts if k[0] == job_id and (attempt is None or k[1] == attempt)]
        if not keys:
            if quiet:
                return
            raise KeyError(f"fake executor: job {job_id} has no attempt to end")
        a = self.attempts[max(keys)]
        if a.status == ExecStatus.RUNNING:
            a.status, a.exit_code, a.cause = status, code, cause


def from_settings(settings: ExecutorSettings) -> FakeExecutor:
    """The registry's factory for ``fake``: one node of ``virtual_gpus`` (default 8) GPUs."""
    gpus = 8 if settings.virtual_gpus is None else settings.virtual_gpus
    name = settings.node_name or "node0"
    return FakeExecutor(
        [NodeInfo(name=name, gpus=virtual_gpus(gpus, settings.virtual_model, name))]
    )
