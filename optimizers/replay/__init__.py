"""Replaying search strategies over a fixed, fully scored candidate pool (no LLM calls).

The query-efficiency benchmark: score a few hundred candidates once, then compare how
many dev queries ZOPO, GP-UCB, APE's best-of-N and random search need to find the good
ones, over many seeds and budgets, at no further cost.
"""

from optimizers.replay.best_of_n import BestOfN
from optimizers.replay.gp_ucb import GPUCB
from optimizers.replay.oracle import BudgetExceeded, DevOracle, Reveal
from optimizers.replay.pool import ScoredPool
from optimizers.replay.pool_file import PoolCandidate, PoolFile
from optimizers.replay.random_order import RandomOrder
from optimizers.replay.strategy import Strategy, replay, replay_seeds
from optimizers.replay.summary import Band, Estimate, RunSummary, band, estimate, summarise
from optimizers.replay.trace import ReplayTrace, trace_from
from optimizers.replay.zopo_replay import ZOPOReplay

__all__ = [
    "GPUCB",
    "Band",
    "BestOfN",
    "BudgetExceeded",
    "DevOracle",
    "Estimate",
    "PoolCandidate",
    "PoolFile",
    "RandomOrder",
    "ReplayTrace",
    "Reveal",
    "RunSummary",
    "ScoredPool",
    "Strategy",
    "ZOPOReplay",
    "band",
    "estimate",
    "replay",
    "replay_seeds",
    "summarise",
    "trace_from",
]
