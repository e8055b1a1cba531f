"""Job states and the one table of allowed transitions.

``queued -> running -> succeeded | failed | cancelled``; a queued job can be cancelled; a
running job goes back to ``queued`` when the server stops (SIGTERM: the trainer
checkpoints) or crashes (found ``running`` at the next start), and resumes from its
checkpoint when it runs again. A failed job goes back to ``queued`` when it is retried
(``POST /jobs/{id}/retry``), and resumes from its checkpoint too.
:class:`~gputrain.service.store.JobStore` checks every state change against
:data:`TRANSITIONS`; nothing else writes a state.
"""

from __future__ import annotations

from enum import Enum


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

    def __str__(self) -> str:
        return self.value


class JobKind(str, Enum):
    W2V = "w2v"
    MLP = "mlp"

    def __str__(self) -> str:
        return self.value


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}
    ),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset({JobState.QUEUED}),  # a retry
    JobState.CANCELLED: frozenset(),
}

# how a finished job is counted in gputrain_jobs_finished_total{outcome}
OUTCOMES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class InvalidTransition(Exception):
    """A state change the state machine does not allow (e.g. cancelling a finished job)."""

    def __init__(self, job_id: str, current: JobState, wanted: JobState | None):
        """``wanted`` None: the job cannot be deleted (only finished jobs can)."""
        self.job_id, self.current, self.wanted = job_id, current, wanted
        what = f"become {wanted.value}" if wanted is not None else \
            "be deleted until it is finished (cancel it first)"
        super().__init__(f"job {job_id} is {current.value}; it cannot {what}")


def check_transition(job_id: str, current: JobState, wanted: JobState) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(job_id, current, wanted)
