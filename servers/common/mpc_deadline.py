"""How long one MPC run may take: a base plus a cost per provider or per stored input.

Why it scales: a flat deadline has to fit the largest run a deployment will ever do
(a query over every stored input, a full verification batch), so a run that hangs —
a dead peer, a stopped process — held the parties and the coordinator's queue for
that long even when the run itself would take a second. The deadline of a run is
``base + per_item × items``, capped at ``max_seconds``; the party enforces it on its
MPC child, the coordinator waits the same deadline plus a grace for the HTTP answer.
The defaults leave a wide margin over the costs measured here (verification
0.003 s per provider, a query with every statistic about 0.001 s per input, Gini
0.002 s per input, party start-up under a second), since a busy machine is 2× slower.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Documented defaults (docs/deployment.md); the party's and the coordinator's configs share them.
DEFAULT_BASE_SECONDS = 30.0
DEFAULT_SECONDS_PER_SUBMISSION = 0.5
DEFAULT_SECONDS_PER_INPUT = 0.02
DEFAULT_MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class MPCDeadline:
    base_seconds: float = DEFAULT_BASE_SECONDS
    per_submission_seconds: float = DEFAULT_SECONDS_PER_SUBMISSION
    per_input_seconds: float = DEFAULT_SECONDS_PER_INPUT
    max_seconds: float = DEFAULT_MAX_SECONDS

    def check(self, prefix: str = "mpc_") -> None:
        """Raise ``ValueError`` naming the config key of a value that makes no deadline."""
        if not self.base_seconds > 0:
            raise ValueError(f"{prefix}timeout_seconds must be positive")
        if self.per_submission_seconds < 0 or self.per_input_seconds < 0:
            raise ValueError(f"{prefix}seconds_per_submission and {prefix}seconds_per_input "
                             "must not be negative")
        if self.max_seconds < self.base_seconds:
            raise ValueError(f"{prefix}timeout_max_seconds must be at least {prefix}timeout_seconds")

    def verification(self, submissions: int) -> float:
        """Deadline of a verification run over ``submissions`` providers."""
        return min(self.max_seconds, self.base_seconds + self.per_submission_seconds * submissions)

    def query(self, inputs: int) -> float:
        """Deadline of a statistics run over ``inputs`` stored inputs."""
        return min(self.max_seconds, self.base_seconds + self.per_input_seconds * inputs)

    def for_job(self, job: dict[str, object]) -> float:
        """The deadline of a party's MPC job, from what the job carries."""
        if job.get("task") == "verify":
            return self.verification(len(job.get("submissions") or []))  # type: ignore[arg-type]
        if job.get("task") == "stats":
            return self.query(len(job.get("input_ids") or []))  # type: ignore[arg-type]
        return self.base_seconds
