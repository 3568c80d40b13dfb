"""Never hand back something worse than the seed: the final answer must beat it on dev.

Choosing the best of many noisy dev scores is biased upward (on 12 dev examples the
end-to-end benchmark once chose a prompt that fell from 0.733 to 0.467 on test).
The rule: the best-scoring candidate is the answer only if, on all of dev and
paired by example with the seed, its mean is higher **and** the two-sided paired
sign-flip permutation test gives ``p < alpha`` (0.05). Otherwise the answer is the
seed, and the report says why. A candidate the person accepted is their choice and
is not second-guessed.

The test is exact on few examples: its smallest p-value with ``m`` examples where
the two prompts differ is ``2 / 2**m``, so with fewer than :func:`min_dev_examples`
dev examples (6 at 0.05) no candidate can pass. The run says so up front and the
reason says so at the end, in words a newcomer understands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from optimizers.evaluation.evaluator import EvalResult, compare
from optimizers.evaluation.stats import PairedComparison

ALPHA = 0.05


@dataclass(frozen=True)
class GuardDecision:
    """Whether the best candidate may replace the seed, and why."""

    passed: bool
    reason: str
    comparison: PairedComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON for the report."""
        return {
            "passed": self.passed,
            "reason": self.reason,
            "rule": f"paired sign-flip test on all of dev vs the seed, p < {ALPHA} and higher mean",
            "dev_vs_seed": None if self.comparison is None else asdict(self.comparison),
        }


def min_dev_examples(alpha: float = ALPHA) -> int:
    """The fewest dev examples on which a candidate can pass the guard at ``alpha``."""
    m = 1
    while 2.0 / 2**m >= alpha:
        m += 1
    return m


def too_few_dev_examples(n: int, alpha: float = ALPHA) -> str | None:
    """Why ``n`` dev examples can never let a new prompt replace the starting one, or None."""
    needed = min_dev_examples(alpha)
    if n >= needed:
        return None
    return (
        f"with {n} dev examples no new prompt can be shown to beat the starting prompt "
        f"(that takes at least {needed}), so the starting prompt is kept unless you accept "
        "another yourself; add examples, or give the dev split a larger share"
    )


def guard(seed: EvalResult, best: EvalResult, *, alpha: float = ALPHA) -> GuardDecision:
    """May ``best`` (scored on all of dev) replace ``seed``? Paired, as the module says."""
    comparison = compare(seed, best)
    low, high = comparison.interval.low, comparison.interval.high
    facts = (
        f"dev {comparison.mean_a:.3f} → {comparison.mean_b:.3f} ({comparison.diff:+.3f}, "
        f"95% CI [{low:+.3f}, {high:+.3f}], p = {comparison.p_value:.3g}, n = {comparison.n})"
    )
    if comparison.diff > 0 and comparison.p_value < alpha:
        return GuardDecision(True, f"beats the starting prompt on dev: {facts}", comparison)
    why = too_few_dev_examples(comparison.n, alpha)
    if why is not None:
        return GuardDecision(False, f"kept the starting prompt: {why}: {facts}", comparison)
    return GuardDecision(
        False,
        f"kept the starting prompt: the best candidate does not beat it clearly on dev: {facts}",
        comparison,
    )
