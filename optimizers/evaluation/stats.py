"""Uncertainty for scores: bootstrap intervals and paired comparisons of two prompts.

Dev splits are small (ZOPO's reference uses 20 examples), so a mean alone
overstates what is known. Every score carries a percentile-bootstrap interval,
and two prompts scored on the same examples are compared *paired* (per-example
differences), which is far more sensitive than comparing two intervals.
All randomness comes from an explicit ``seed``; results are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXACT_MAX_NONZERO",
    "N_PERMUTATIONS",
    "Interval",
    "PairedComparison",
    "mean_with_ci",
    "paired_comparison",
]

EXACT_MAX_NONZERO = 16
"""Up to this many non-zero differences the sign-flip test enumerates all 2^n flips."""

N_PERMUTATIONS = 10_000
"""Random sign flips drawn when the exact test would be too large."""

_MAX_BLOCK = 1 << 21  # elements per resampling block: bounds memory for large n
_TIE_TOLERANCE = 1e-12  # |b - a| at or below this is a tie (float noise, e.g. 0.1 + 0.2)


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` at level ``confidence`` (e.g. 0.95)."""

    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class PairedComparison:
    """Prompt B against prompt A on the same examples; positive ``diff`` favours B."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    """Mean of the per-example differences ``b - a``."""
    interval: Interval
    """Paired bootstrap interval of ``diff``."""
    wins: int
    """Examples where B scored higher than A."""
    losses: int
    """Examples where B scored lower than A."""
    ties: int
    """Examples where both scored the same."""
    p_value: float
    """Two-sided paired sign-flip permutation test of ``diff == 0``."""


def mean_with_ci(
    scores: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, Interval]:
    """Return the mean of ``scores`` and its percentile-bootstrap confidence interval.

    One score, or all scores equal, gives the degenerate interval ``[mean, mean]``
    (no resample can differ). Raises ``ValueError`` for no scores, non-finite
    scores or bad settings.
    """
    values = _as_vector(scores, "scores")
    if values.size == 0:
        raise ValueError("mean_with_ci needs at least one score, got none")
    _check_settings(confidence, n_resamples, seed)
    mean = float(values.mean())
    interval = _bootstrap_interval(values, mean, confidence, n_resamples, _rng(seed, 0))
    return mean, interval


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Compare per-example scores ``b`` against ``a`` (same examples, same order).

    The interval is a paired bootstrap of ``mean(b - a)``; the p-value is a
    two-sided sign-flip permutation test on the same statistic — exact when there
    are at most :data:`EXACT_MAX_NONZERO` non-tied examples, otherwise estimated
    from :data:`N_PERMUTATIONS` random flips (with the +1 correction, so it is
    never 0).
    """
    first = _as_vector(a, "a")
    second = _as_vector(b, "b")
    if first.size != second.size:
        raise ValueError(
            "paired_comparison needs scores for the same examples: "
            f"a has {first.size} scores, b has {second.size}"
        )
    if first.size == 0:
        raise ValueError("paired_comparison needs at least one example, got none")
    _check_settings(confidence, n_resamples, seed)
    diffs = second - first
    diffs[np.abs(diffs) <= _TIE_TOLERANCE] = 0.0
    diff = float(diffs.mean())
    return PairedComparison(
        n=int(first.size),
        mean_a=float(first.mean()),
        mean_b=float(second.mean()),
        diff=diff,
        interval=_bootstrap_interval(diffs, diff, confidence, n_resamples, _rng(seed, 0)),
        wins=int(np.count_nonzero(diffs > 0)),
        losses=int(np.count_nonzero(diffs < 0)),
        ties=int(np.count_nonzero(diffs == 0)),
        p_value=_sign_flip_p_value(diffs, _rng(seed, 1)),
    )


def _as_vector(scores: Sequence[float], name: str) -> np.ndarray:
    try:
        values = np.array(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers: {exc}") from exc
    if values.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers, got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"{name} must hold finite numbers; position {int(bad[0])} is {values[bad[0]]}"
        )
    return values


def _check_settings(confidence: float, n_resamples: int, seed: int) -> None:
    if not (isinstance(confidence, int | float) and 0 < confidence < 1):
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _rng(seed: int, stream: int) -> np.random.Generator:
    """Independent generators per purpose (bootstrap, permutation) from one seed."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))


def _bootstrap_interval(
    values: np.ndarray,
    mean: float,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> Interval:
    """Percentile bootstrap of the mean, resampled in blocks to bound memory."""
    n = values.size
    if n == 1 or np.all(values == values[0]):
        return Interval(low=mean, high=mean, confidence=confidence)
    block = max(1, _MAX_BLOCK // n)
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        indices = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[indices].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    # Percentile intervals contain the sample mean in practice; guard against rounding.
    return Interval(low=min(float(low), mean), high=max(float(high), mean), confidence=confidence)


def _sign_flip_p_value(diffs: np.ndarray, rng: np.random.Generator) -> float:
    """Two-sided p-value of ``mean(diffs) == 0`` under random sign flips of the differences."""
    nonzero = diffs[diffs != 0]
    m = nonzero.size
    if m == 0:
        return 1.0
    observed = abs(float(nonzero.sum()))
    # Sums that equal the observed one up to float rounding count as "as extreme".
    threshold = observed - 1e-9 * max(1.0, float(np.abs(nonzero).sum()))
    if m <= EXACT_MAX_NONZERO:
        patterns = np.arange(1 << m, dtype=np.int64)[:, None] >> np.arange(m) & 1
        sums = (patterns * 2 - 1) @ nonzero
        return float(np.count_nonzero(np.abs(sums) >= threshold) / (1 << m))
    block = max(1, _MAX_BLOCK // m)
    extreme = 0
    for start in range(0, N_PERMUTATIONS, block):
        count = min(block, N_PERMUTATIONS - start)
        signs = rng.integers(0, 2, size=(count, m), dtype=np.int8) * 2 - 1
        extreme += int(np.count_nonzero(np.abs(signs @ nonzero) >= threshold))
    return (extreme + 1) / (N_PERMUTATIONS + 1)
