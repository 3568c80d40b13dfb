"""ZOPO replayed over a fixed pool: the project's own :class:`ZOPOSearch`, unchanged.

The pool is the search's candidate set (ids are row numbers, embeddings the pool's);
every ask is answered from the oracle. Settings are the reference ones of
:class:`~optimizers.zopo.config.ZOPOConfig` (lr 0.01, 20-point local NTK GP, σ² 1e-4,
λ 0.01 on the relative uncertainty, patience 5, 10 neighbours, tolerance 2), with the
random initial design scaled to the budget as the ZOPO optimizer does
(:func:`~optimizers.zopo.optimizer.initial_design_size`: 40 of 165 queries).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from optimizers.zopo import ZOPOConfig, ZOPOSearch
from optimizers.zopo.optimizer import initial_design_size, torch_threads
from replay.oracle import DevOracle


@dataclass(frozen=True, kw_only=True)
class ZOPOReplay:
    """Drive :class:`ZOPOSearch` one query at a time until the budget is spent."""

    name: ClassVar[str] = "zopo"
    zopo: ZOPOConfig = field(default_factory=ZOPOConfig)
    n_initial: int | None = field(
        default=None, metadata={"doc": "random evaluations first; None: scaled to the budget"}
    )

    def config_for(self, budget: int, seed: int) -> ZOPOConfig:
        """The search's settings for this budget and seed."""
        n_initial = self.n_initial or initial_design_size(budget)
        return dataclasses.replace(self.zopo, n_initial=n_initial, seed=seed)

    def run(self, oracle: DevOracle, embeddings: np.ndarray, seed: int) -> None:
        """Ask, evaluate, tell, one candidate at a time (on one torch thread, as in runs)."""
        with torch_threads(1):
            search = ZOPOSearch(self.config_for(oracle.budget, seed))
            # A writable copy: the pool's arrays are read-only, torch wants to own its data.
            search.add_candidates([str(i) for i in range(oracle.n)], np.array(embeddings))
            while oracle.remaining >= 1:
                ids = search.ask()
                if not ids:
                    return
                index = int(ids[0])
                search.tell(ids[0], oracle.evaluate(index))
