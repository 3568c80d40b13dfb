"""Replaying search strategies over a fixed, fully scored candidate pool (no LLM calls).

The query-efficiency benchmark: score a few hundred candidates once, then compare how
many dev queries ZOPO, GP-UCB, APE's best-of-N and random search need to find the good
ones, over many seeds and budgets, at no further cost.
"""

from replay.best_of_n import BestOfN
from replay.gp_ucb import GPUCB
from replay.oracle import BudgetExceeded, DevOracle, Reveal
from replay.pool import ScoredPool
from replay.pool_file import PoolCandidate, PoolFile
from replay.random_order import RandomOrder
from replay.strategy import Strategy, replay, replay_seeds
from replay.summary import Band, Estimate, RunSummary, band, estimate, summarise
from replay.trace import ReplayTrace, trace_from
from replay.zopo_replay import ZOPOReplay

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
