"""This party's side of an MPC run: one supervised MPyC process per run, one run at a time.

The job (with any key shares) goes to the child through its stdin. The child
writes its store only at its very end, so a run that fails or times out — a peer
died, the network broke — leaves the store as it was (``mpc_programs.runtime.runner``).

The deadline scales with the run (``servers.common.mpc_deadline``), and a failure
carries a code the coordinator can act on: ``mpc_aborted`` when the child exited on
an error (a lost peer connection ends the child within seconds; its last error names
the peer), ``mpc_deviation`` when it aborted because a check of active security caught a
party deviating (a failed product check or opening check: the message names the step),
``mpc_timeout`` when it was killed at the deadline.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mpc_programs.runtime.runner import MPCRunError, start_party, supervise
from servers.party.config import PartyConfig


#: What the checks of active security write when they abort a run (``product_check``,
#: ``hardened_runtime.opening_check_failed``, the random bits of ``secure_compare``).
DEVIATION_MARKERS = ("product check failed", "opening check failed", "a party deviated")


class MPCRunFailed(MPCRunError):
    """An MPC run failed; ``code`` says how (``mpc_aborted``, ``mpc_deviation`` or
    ``mpc_timeout``)."""

    def __init__(self, code: str, message: str, details: dict[int, str] | None = None) -> None:
        super().__init__(message, details)
        self.code = code


def classify(exc: MPCRunError, deadline: float) -> MPCRunFailed:
    """Give a runner error its code. The runner words a deadline expiry "timed out after";
    anything else is a child that exited non-zero, and its message is the child's last error."""
    text = str(exc)
    if text.startswith("MPC run timed out"):
        return MPCRunFailed("mpc_timeout", f"the MPC run did not finish within its deadline of "
                                           f"{deadline:.0f} s (a peer hung or the run is too "
                                           f"large for the deadline settings)", exc.details)
    if any(marker in text for marker in DEVIATION_MARKERS):
        return MPCRunFailed("mpc_deviation", f"a party deviated from the protocol; the check "
                                             f"caught it and the run aborted: {text}", exc.details)
    return MPCRunFailed("mpc_aborted", f"the MPC run aborted: {text}", exc.details)


def error_code(exc: MPCRunError) -> str:
    """The API error code of a failed run (``mpc_failed`` for an unclassified one)."""
    return getattr(exc, "code", "mpc_failed")


class MPCService:
    def __init__(self, config: PartyConfig) -> None:
        self.config = config
        self.deadline = config.mpc_deadline()
        self.lock = asyncio.Lock()
        self.workdir = config.data_dir / "runs"
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def store_path(self) -> str:
        return str(self.config.data_dir / "shares.json")

    def job_for(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job as the child gets it: this party's store and security level added."""
        return {**job, "store": self.store_path, "security": self.config.mpc_security}

    def _run_blocking(self, job: dict[str, Any], deadline: float) -> dict[str, Any]:
        run = start_party(self.config.index, self.config.mpc_addresses(),
                          self.job_for(job), self.workdir,
                          stamp=f"{time.time_ns()}", ssl=True, cwd=self.config.mpc_ssl_dir)
        try:
            return supervise([run], deadline)[0]
        except MPCRunError as exc:
            raise classify(exc, deadline) from None

    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job under its scaled deadline; raises :class:`MPCRunFailed` on failure."""
        deadline = self.deadline.for_job(job)
        async with self.lock:
            return await asyncio.to_thread(self._run_blocking, job, deadline)
