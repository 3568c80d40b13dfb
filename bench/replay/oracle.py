"""The only way a replayed strategy learns a dev score, and what that costs.

Cost is counted in example evaluations, the LLM calls a live run would pay: one
*query* is one prompt scored on the whole dev split (``n_dev`` calls). Scoring a
prompt on part of dev (APE's filter) costs its share of a query, and examples a
prompt was already scored on are free, as the response cache makes them in a live
run: a full evaluation after a partial one costs only the examples not yet seen.
Without per-example scores in the pool, only whole queries (cost 1) are possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from replay.pool import ScoredPool


class BudgetExceeded(RuntimeError):
    """A strategy asked for an evaluation its remaining budget cannot pay for."""


@dataclass(frozen=True)
class Reveal:
    """One evaluation: which candidate, on how many examples, and the budget spent after it.

    ``full`` is True when the candidate's whole dev score is known from now on;
    ``score`` is the mean over the examples this evaluation covered (the full dev
    score when ``full``).
    """

    index: int
    score: float
    full: bool
    spent_units: int


class DevOracle:
    """Reveals dev scores of a :class:`ScoredPool` within a budget of ``budget`` queries.

    Strategies see embeddings and what they have been told, never the pool's scores.
    A candidate's full dev score is revealed once: asking again is a bug in the
    strategy (a live run would reuse the score, not spend a query) and raises.
    """

    def __init__(self, pool: ScoredPool, budget: int) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ValueError(f"budget must be an int >= 1 (queries), got {budget!r}")
        self._pool = pool
        self.budget = budget
        self.unit = pool.n_dev or 1  # example evaluations per query
        self._seen = np.zeros((pool.n, self.unit), dtype=bool)  # (candidate, example) paid
        self._full = np.zeros(pool.n, dtype=bool)
        self._spent = 0
        self._reveals: list[Reveal] = []

    # ------------------------------------------------------------------------ budget

    @property
    def n(self) -> int:
        """Candidates in the pool."""
        return self._pool.n

    @property
    def n_dev(self) -> int | None:
        """Dev examples per candidate when partial evaluations are possible, else ``None``."""
        return self._pool.n_dev

    @property
    def spent(self) -> float:
        """Queries spent so far (fractional after partial evaluations)."""
        return self._spent / self.unit

    @property
    def remaining(self) -> float:
        """Queries left."""
        return self.budget - self.spent

    @property
    def spent_units(self) -> int:
        """Example evaluations spent so far (``unit`` per query)."""
        return self._spent

    def cost(self, index: int, examples: Sequence[int] | None = None) -> float:
        """Queries that evaluating ``index`` on ``examples`` (``None``: all of dev) would cost."""
        return self._new(index, examples).sum() / self.unit

    def can_afford(self, index: int, examples: Sequence[int] | None = None) -> bool:
        """True when the remaining budget pays for that evaluation."""
        return self._spent + int(self._new(index, examples).sum()) <= self.budget * self.unit

    def is_known(self, index: int) -> bool:
        """True once the full dev score of ``index`` has been revealed."""
        return bool(self._full[self._check(index)])

    @property
    def known(self) -> np.ndarray:
        """Boolean mask of candidates whose full dev score is known (a copy)."""
        return self._full.copy()

    # ------------------------------------------------------------------------ reveal

    def evaluate(self, index: int) -> float:
        """The full dev score of ``index``; charges the examples not yet paid for."""
        index = self._check(index)
        if self._full[index]:
            raise ValueError(f"candidate {index} was already evaluated on dev: reuse its score")
        self._charge(index, None)
        self._full[index] = True
        score = float(self._pool.dev[index])
        self._reveals.append(Reveal(index, score, True, self._spent))
        return score

    def evaluate_subset(self, index: int, examples: Sequence[int]) -> float:
        """Mean score of ``index`` on the dev examples ``examples`` (their share of a query)."""
        if self._pool.dev_examples is None:
            raise ValueError(
                "partial dev evaluations need per-example dev scores; this pool has only means"
            )
        index = self._check(index)
        cols = self._columns(examples)
        if len(cols) == 0:
            raise ValueError("evaluate_subset needs at least one dev example, got none")
        self._charge(index, cols)
        full = bool(self._seen[index].all())
        if full:
            self._full[index] = True
        score = float(self._pool.dev_examples[index, cols].mean())
        self._reveals.append(Reveal(index, score, full, self._spent))
        return score

    @property
    def reveals(self) -> tuple[Reveal, ...]:
        """Every evaluation so far, in order."""
        return tuple(self._reveals)

    # ----------------------------------------------------------------------- helpers

    def _check(self, index: int) -> int:
        i = int(index)
        if i != index or not 0 <= i < self._pool.n:
            raise ValueError(
                f"candidate index must be an int in [0, {self._pool.n}), got {index!r}"
            )
        return i

    def _columns(self, examples: Sequence[int] | None) -> np.ndarray:
        if examples is None:
            return np.arange(self.unit)
        cols = np.unique(np.asarray(examples, dtype=np.int64))
        if cols.size and (cols[0] < 0 or cols[-1] >= self.unit):
            raise ValueError(
                f"dev example indices must be in [0, {self.unit}), got {cols.min()}..{cols.max()}"
            )
        return cols

    def _new(self, index: int, examples: Sequence[int] | None) -> np.ndarray:
        """Mask over the requested columns that are not yet paid for."""
        cols = self._columns(examples)
        return ~self._seen[self._check(index), cols]

    def _charge(self, index: int, cols: np.ndarray | None) -> None:
        cols = self._columns(None) if cols is None else cols
        new = int((~self._seen[index, cols]).sum())
        if self._spent + new > self.budget * self.unit:
            raise BudgetExceeded(
                f"evaluating candidate {index} costs {new / self.unit:g} queries, "
                f"{self.remaining:g} of {self.budget} left"
            )
        self._seen[index, cols] = True
        self._spent += new
