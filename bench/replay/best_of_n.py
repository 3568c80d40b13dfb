"""APE-style best-of-N over the pool: filter many candidates cheaply, then score the best.

APE (Zhou et al. 2023) scores a large sample of candidates on a small random subset of
the evaluation data and only the top ones on all of it. Here, within the same query
budget as the other strategies (see :mod:`replay.oracle` for the
accounting: a subset evaluation costs its share of a query, and the full evaluation
that follows only the examples not yet scored):

1. spend ``filter_share`` of the budget scoring ``N`` random candidates on one random
   subset of ``subset_share`` of the dev examples (the same subset for all, so their
   scores compare);
2. spend the rest scoring the top ``k`` of them (ties broken at random) on the full
   dev split, as many as the budget pays for (at least one: ``N`` shrinks if needed);
3. the answer is the best full dev score, as for every strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from replay.oracle import DevOracle


@dataclass(frozen=True, kw_only=True)
class BestOfN:
    """Sample N, filter on a dev subset, evaluate the top k on full dev, keep the best."""

    name: ClassVar[str] = "ape"
    subset_share: float = field(
        default=0.25, metadata={"doc": "share of the dev examples in the filter subset"}
    )
    filter_share: float = field(
        default=0.5, metadata={"doc": "share of the budget spent on the filter"}
    )

    def __post_init__(self) -> None:
        for name in ("subset_share", "filter_share"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")

    def plan(self, budget: int, n_dev: int, n_pool: int) -> tuple[int, int, int]:
        """``(m, N, k)``: subset size, candidates filtered, candidates fully evaluated.

        In example evaluations: the filter costs ``N·m``, the full evaluations
        ``k·(n_dev - m)``, together at most ``budget·n_dev``.
        """
        if n_dev < 2:
            raise ValueError(f"best-of-N needs at least 2 dev examples to filter on, got {n_dev}")
        m = min(n_dev - 1, max(1, round(self.subset_share * n_dev)))
        units, rest = budget * n_dev, n_dev - m
        n = min(n_pool, int(self.filter_share * units) // m, (units - rest) // m)
        n = max(n, 1)
        k = min(n, (units - n * m) // rest)
        return m, n, k

    def run(self, oracle: DevOracle, embeddings: np.ndarray, seed: int) -> None:
        """Filter, then full evaluations of the best of the filter."""
        n_dev = oracle.n_dev
        if n_dev is None:
            raise ValueError(
                "APE's best-of-N filters on part of dev: the pool needs per-example dev scores"
            )
        m, n, k = self.plan(oracle.budget, n_dev, oracle.n)
        rng = np.random.default_rng(seed)
        subset = np.sort(rng.choice(n_dev, size=m, replace=False))
        sampled = rng.choice(oracle.n, size=n, replace=False)
        filtered = np.array([oracle.evaluate_subset(int(i), subset) for i in sampled])
        shuffle = rng.permutation(n)  # random tie-break among equal subset scores
        order = shuffle[np.argsort(-filtered[shuffle], kind="stable")]
        for index in sampled[order[:k]]:
            oracle.evaluate(int(index))
