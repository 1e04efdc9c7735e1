"""Which signed result may replace the one the results API serves: only a newer run over the grown pool.

Why: all three signatures prove that the parties computed a result once, not that it is the current one.
Anyone who kept an old signed triple (a party operator, a mirror, a consumer who saved the documents) could
otherwise get the API to serve a stale release, or one over fewer providers, simply by having the parties'
``/v1/results/latest`` answer it again. The served result is the watermark; a result passes only if it
is newer in *both* senses the parties sign:

* ``computed_at`` (Unix seconds, fixed by the coordinator and signed by every party) is not earlier, and
* the input set is not smaller: inputs are append-only and every party refuses a query that does not
  cover exactly the inputs it counted (custom queries included: they differ in the signed ``query`` spec,
  never in the input set), so ``n`` only grows, and two runs with the same ``n`` cover the same inputs
  and carry the same ``input_digest``. A later time over fewer inputs, or over a different set of the
  same size, is a rollback of the store or a narrowed query, never a legitimate newer release.

Ties are refused: a run with the same ``n`` must be strictly later, otherwise two different results of
the same second and input set could be swapped back and forth. A run over more inputs may share the
served run's second (the pool grew in between). A result dated further in the future than the clock
allows is refused too: once served it would block every honest release until that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

#: How far ``computed_at`` may lie ahead of this server's clock (clock skew between the machines).
DEFAULT_FUTURE_TOLERANCE_SECONDS = 600


class MarkError(ValueError):
    """The signed result lacks a well-formed ``n``, ``computed_at`` or ``input_digest``."""


@dataclass(frozen=True)
class RunMark:
    """The part of a signed result that orders runs."""

    run_id: str
    n: int
    computed_at: int
    input_digest: str

    @classmethod
    def of(cls, result: dict[str, Any]) -> RunMark:
        n, computed_at = result.get("n"), result.get("computed_at")
        digest, run_id = result.get("input_digest"), result.get("run_id")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise MarkError("n must be a non-negative integer")
        if not isinstance(computed_at, int) or isinstance(computed_at, bool) or computed_at < 0:
            raise MarkError("computed_at must be Unix seconds (a non-negative integer)")
        if not isinstance(digest, str) or not digest:
            raise MarkError("input_digest must be a non-empty string")
        return cls(str(run_id), n, computed_at, digest)

    def describe(self) -> str:
        return f"run {self.run_id} (n={self.n}, computed_at={self.computed_at})"


class Verdict(str, Enum):
    NEWER = "newer"        # serve it
    SAME = "same"          # the served run itself, seen again
    REFUSED = "refused"    # older, narrower, a fork or a tie: keep serving the watermark


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


def judge(served: RunMark | None, incoming: RunMark, *, same_result: bool, now: float,
          future_tolerance: float = DEFAULT_FUTURE_TOLERANCE_SECONDS) -> Judgement:
    """May ``incoming`` replace ``served``? ``same_result``: the two signed results are identical."""
    if served is not None and same_result:
        return Judgement(Verdict.SAME)
    if incoming.computed_at > now + future_tolerance:
        return Judgement(Verdict.REFUSED, f"{incoming.describe()} is dated in the future "
                                          f"(more than {future_tolerance:g} s ahead of this server)")
    if served is None:
        return Judgement(Verdict.NEWER)
    against = f"the served {served.describe()}"
    if incoming.n < served.n:
        return Judgement(Verdict.REFUSED, f"{incoming.describe()} covers fewer inputs than {against}")
    if incoming.computed_at < served.computed_at:
        return Judgement(Verdict.REFUSED, f"{incoming.describe()} is older than {against}")
    if incoming.n == served.n:
        if incoming.input_digest != served.input_digest:
            return Judgement(Verdict.REFUSED, f"{incoming.describe()} covers a different input set of "
                                              f"the same size as {against}")
        if incoming.computed_at == served.computed_at:
            return Judgement(Verdict.REFUSED, f"{incoming.describe()} is not newer than {against} "
                                              "(same time, same inputs)")
    return Judgement(Verdict.NEWER)
