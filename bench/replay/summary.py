"""Means with 95% intervals over seeds: the curves and the table of the pool benchmark.

Intervals are percentile bootstraps over seeds (:func:`mean_with_ci`, the evaluator's
own), so they say how well the mean over this many seeds is pinned down, not how
spread single runs are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizers.evaluation.stats import mean_with_ci
from replay.trace import ReplayTrace


@dataclass(frozen=True)
class Band:
    """Mean and 95% interval per query (``NaN`` where some run had nothing yet)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its 95% bootstrap interval."""

    mean: float
    low: float
    high: float

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


@dataclass(frozen=True)
class RunSummary:
    """What a strategy achieved at one budget over all seeds."""

    strategy: str
    budget: int
    seeds: int
    best_dev: Estimate
    regret: Estimate
    chosen_test: Estimate
    found_best: float
    """Share of the runs that found a prompt with the pool's best dev score."""
    spent: float
    """Mean queries spent (a strategy may stop early when the pool is exhausted)."""


def estimate(values: Sequence[float], *, seed: int = 0) -> Estimate:
    """Mean and 95% bootstrap interval; ``NaN`` if any value is (a run without an answer)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0 or np.isnan(data).any():
        return Estimate(float("nan"), float("nan"), float("nan"))
    mean, interval = mean_with_ci(data.tolist(), seed=seed)
    return Estimate(mean, interval.low, interval.high)


def band(curves: np.ndarray, *, seed: int = 0) -> Band:
    """Per-column :func:`estimate` of a ``runs x queries`` matrix."""
    if curves.ndim != 2 or curves.shape[0] == 0:
        raise ValueError(f"expected a runs x queries matrix, got shape {curves.shape}")
    cols = [estimate(curves[:, q], seed=seed) for q in range(curves.shape[1])]
    return Band(
        mean=np.array([c.mean for c in cols]),
        low=np.array([c.low for c in cols]),
        high=np.array([c.high for c in cols]),
    )


def summarise(traces: Sequence[ReplayTrace]) -> RunSummary:
    """One strategy at one budget: the ``traces`` of its seeds."""
    if not traces:
        raise ValueError("summarise needs at least one trace, got none")
    kinds = {(t.strategy, t.budget) for t in traces}
    if len(kinds) != 1:
        raise ValueError(f"expected traces of one strategy at one budget, got {sorted(kinds)}")
    return RunSummary(
        strategy=traces[0].strategy,
        budget=traces[0].budget,
        seeds=len(traces),
        best_dev=estimate([t.final_best_dev for t in traces]),
        regret=estimate([t.final_regret for t in traces]),
        chosen_test=estimate([t.chosen_test for t in traces]),
        found_best=float(np.mean([t.final_regret == 0 for t in traces])),
        spent=float(np.mean([t.spent for t in traces])),
    )
