"""Random search over the pool: candidates in a seeded random order, no repeats.

The yardstick: any strategy that uses the scores it has seen must beat it at equal
budget, or the model of the landscape is not helping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from replay.oracle import DevOracle


@dataclass(frozen=True, kw_only=True)
class RandomOrder:
    """Evaluate uniformly random unqueried candidates until the budget is spent."""

    name: ClassVar[str] = "random"

    def run(self, oracle: DevOracle, embeddings: np.ndarray, seed: int) -> None:
        """Query a seeded permutation of the pool, in order."""
        order = np.random.default_rng(seed).permutation(oracle.n)
        for index in order:
            if not oracle.can_afford(int(index)):
                break
            oracle.evaluate(int(index))
