"""The contract of a replayed search strategy, and the loop that runs one.

A strategy gets the candidates' embeddings and a :class:`DevOracle`; it asks the
oracle for dev scores until the budget is spent or it has nothing left to ask. All
its randomness comes from ``seed``, so a replay is a pure function of (pool,
strategy settings, budget, seed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from replay.oracle import DevOracle
from replay.pool import ScoredPool
from replay.trace import ReplayTrace, trace_from


class Strategy(Protocol):
    """A search strategy over a fixed pool (``name`` labels its results)."""

    name: str

    def run(self, oracle: DevOracle, embeddings: np.ndarray, seed: int) -> None:
        """Spend ``oracle``'s budget choosing candidates of ``embeddings`` (``n x d``)."""
        ...


def replay(pool: ScoredPool, strategy: Strategy, *, budget: int, seed: int) -> ReplayTrace:
    """Run ``strategy`` on ``pool`` with ``budget`` queries and ``seed``; return its trace."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    oracle = DevOracle(pool, budget)
    strategy.run(oracle, pool.embeddings, seed)
    return trace_from(oracle, pool, strategy=strategy.name, seed=seed)


def replay_seeds(
    pool: ScoredPool, strategy: Strategy, *, budget: int, seeds: Iterable[int]
) -> list[ReplayTrace]:
    """:func:`replay` once per seed."""
    return [replay(pool, strategy, budget=budget, seed=seed) for seed in seeds]
