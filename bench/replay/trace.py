"""What one replayed run found, query by query: best dev so far, regret, the chosen prompt."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay.oracle import DevOracle
from replay.pool import ScoredPool


@dataclass(frozen=True, kw_only=True, eq=False)
class ReplayTrace:
    """One run of one strategy on one pool with one seed and budget.

    Attributes:
        strategy: the strategy's name.
        seed: its seed.
        budget: queries it was given.
        best_dev: ``budget`` values; entry ``q - 1`` is the best *full* dev score known
            once at most ``q`` queries were spent (``NaN`` while none is known, as during
            APE's partial filter).
        regret: ``pool.best_dev - best_dev`` (``>= 0``; ``0`` once a best prompt is found).
        chosen: index of the prompt the run would return (best full dev score, earliest
            on ties), or ``None`` if it never scored one fully.
        chosen_dev: its dev score (``NaN`` without one).
        chosen_test: its test score: what the user would get (``NaN`` without one).
        queried: candidates whose full dev score was revealed, in order.
        spent: queries spent (fractional with partial evaluations).

    """

    strategy: str
    seed: int
    budget: int
    best_dev: np.ndarray
    regret: np.ndarray
    chosen: int | None
    chosen_dev: float
    chosen_test: float
    queried: tuple[int, ...]
    spent: float

    @property
    def final_best_dev(self) -> float:
        """Best full dev score at the end of the budget."""
        return float(self.best_dev[-1])

    @property
    def final_regret(self) -> float:
        """Regret at the end of the budget."""
        return float(self.regret[-1])


def trace_from(oracle: DevOracle, pool: ScoredPool, *, strategy: str, seed: int) -> ReplayTrace:
    """Read the run's trace off the oracle's record of evaluations (vectorised)."""
    full = [r for r in oracle.reveals if r.full]
    best_dev = np.full(oracle.budget, np.nan)
    chosen: int | None = None
    if full:
        scores = np.array([r.score for r in full])
        spent = np.array([r.spent_units for r in full])
        running = np.maximum.accumulate(scores)
        # Query q (1-based) has paid for q * unit example evaluations.
        limits = np.arange(1, oracle.budget + 1) * oracle.unit
        last = np.searchsorted(spent, limits, side="right") - 1  # last reveal paid by then
        best_dev = np.where(last >= 0, running[np.maximum(last, 0)], np.nan)
        chosen = full[int(np.argmax(scores))].index  # argmax: the earliest on ties
    return ReplayTrace(
        strategy=strategy,
        seed=seed,
        budget=oracle.budget,
        best_dev=best_dev,
        regret=pool.best_dev - best_dev,
        chosen=chosen,
        chosen_dev=float(pool.dev[chosen]) if chosen is not None else float("nan"),
        chosen_test=float(pool.test[chosen]) if chosen is not None else float("nan"),
        queried=tuple(r.index for r in full),
        spent=oracle.spent,
    )
