"""UCB1 over candidate prompts: spend cheap train minibatches where they tell the most.

ProTeGi generates more candidates than it can afford to score properly and picks
the ones worth keeping with a best-arm bandit. Here each arm is a new candidate
and a *pull* is one evaluation on a random train minibatch (reward = its mean
score in [0, 1]). The bandit only decides which candidates get a full dev query;
the runner's dev scores decide the beam.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

PullFn = Callable[[int, int], Awaitable[float]]
"""``pull(arm, t)``: evaluate ``arm`` at pull number ``t`` (0-based) and return its reward."""


@dataclass
class UCB1:
    """Counts and reward sums of ``n_arms`` arms with the UCB1 selection rule."""

    n_arms: int
    c: float = 1.0
    counts: list[int] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n_arms < 1:
            raise ValueError(f"a bandit needs at least one arm, got {self.n_arms}")
        self.counts = self.counts or [0] * self.n_arms
        self.sums = self.sums or [0.0] * self.n_arms

    @property
    def total(self) -> int:
        """Pulls so far, over all arms."""
        return sum(self.counts)

    def mean(self, arm: int) -> float:
        """Empirical mean reward of ``arm`` (0 before its first pull)."""
        return self.sums[arm] / self.counts[arm] if self.counts[arm] else 0.0

    def upper_bound(self, arm: int) -> float:
        """``mean + c·sqrt(ln t / n)``; infinite for an arm never pulled."""
        if not self.counts[arm]:
            return math.inf
        bonus = self.c * math.sqrt(math.log(max(self.total, 1)) / self.counts[arm])
        return self.mean(arm) + bonus

    def select(self) -> int:
        """The arm to pull next: every arm once first (lowest index first), then max UCB."""
        return max(range(self.n_arms), key=lambda arm: (self.upper_bound(arm), -arm))

    def update(self, arm: int, reward: float) -> None:
        """Record one pull of ``arm``."""
        self.counts[arm] += 1
        self.sums[arm] += float(reward)

    def ranking(self) -> list[int]:
        """Arms best first: by mean, then by how often pulled (more evidence), then index."""
        return sorted(range(self.n_arms), key=lambda a: (-self.mean(a), -self.counts[a], a))


async def run_ucb(n_arms: int, pull: PullFn, *, total_pulls: int, c: float) -> UCB1:
    """Pull arms by UCB1 ``max(total_pulls, n_arms)`` times; every arm is pulled at least once."""
    bandit = UCB1(n_arms, c)
    for t in range(max(total_pulls, n_arms)):
        arm = bandit.select()
        bandit.update(arm, await pull(arm, t))
    return bandit
