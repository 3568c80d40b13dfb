"""APE (Zhou et al. 2023): generate instructions from demos, score them, keep the best.

Most of the budget scores the induced candidates in the order they were generated
(the domain's order: the seed, APE inductions, then paraphrases of the seed); the last
``resample_share`` of the steps is APE's iterative Monte-Carlo search: paraphrases of
the current top ``top_k`` prompts, scored as they come. The answer is the best dev
score, which the runner keeps. Over the same domain as ZOPO and random search, it
shows what generation plus plain selection achieves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from optimizers.base import Candidate, OptimizerContext
from optimizers.propose.domain import CandidateDomain, DomainEntry
from optimizers.propose.domain_config import DomainConfig
from optimizers.propose.domain_optimizer import DomainOptimizer
from optimizers.registry import APE


@dataclass(frozen=True, kw_only=True)
class APEConfig:
    """How APE runs."""

    domain: DomainConfig = field(default_factory=DomainConfig)
    batch_size: int = field(default=1, metadata={"doc": "candidates per ask"})
    resample_share: float = field(
        default=1 / 3, metadata={"doc": "last share of the steps spent paraphrasing the top-k"}
    )
    top_k: int = field(default=3, metadata={"doc": "best prompts paraphrased in that phase"})
    paraphrases_per_prompt: int = field(
        default=2, metadata={"doc": "paraphrases asked of each top prompt per round"}
    )

    def __post_init__(self) -> None:
        for name in ("batch_size", "top_k", "paraphrases_per_prompt"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0.0 <= self.resample_share <= 1.0:
            raise ValueError(f"resample_share must be in [0, 1], got {self.resample_share!r}")


class APE(DomainOptimizer):
    """Automatic Prompt Engineer: induce, score in order, then resample around the best."""

    name: ClassVar[str] = APE

    def __init__(
        self,
        context: OptimizerContext,
        config: APEConfig | None = None,
        *,
        domain: CandidateDomain | None = None,
    ) -> None:
        self.config = config or APEConfig()
        super().__init__(context, domain_config=self.config.domain, domain=domain)
        self._queue: list[str] = []  # texts of paraphrases waiting to be scored
        self._rounds = 0

    @property
    def resample_from(self) -> int:
        """First step of the Monte-Carlo phase."""
        total = max(1, self.context.total_steps)
        return total - math.ceil(total * self.config.resample_share) + 1

    async def ask(self) -> list[Candidate]:
        """The next candidates in generation order, or paraphrases of the best in the last phase.

        Either phase falls back on the other when it has nothing: the Monte-Carlo phase
        starts early once every generated candidate is scored, and unscored candidates
        are used if paraphrasing yields nothing new. ``[]`` only when neither has any.
        """
        self.step += 1
        await self.ensure_domain()
        if self.step >= self.resample_from or not self.unscored():
            picks = await self._resampled()
            if picks:
                return picks
        return [self.candidate(entry, entry.source) for entry in self._in_order()]

    def _in_order(self) -> list[DomainEntry]:
        return self.unscored()[: self.config.batch_size]

    async def _resampled(self) -> list[Candidate]:
        self._queue = [
            t for t in self._queue if (e := self.domain.find(t)) and e.key not in self.scores
        ]
        if not self._queue:
            await self._paraphrase_best()
        picks: list[Candidate] = []
        while self._queue and len(picks) < self.config.batch_size:
            entry = self.domain.find(self._queue.pop(0))
            if entry is not None and entry.key not in self.scores:
                picks.append(self.candidate(entry, "paraphrase", round=self._rounds))
        return picks

    async def _paraphrase_best(self) -> None:
        """One Monte-Carlo round: paraphrases of each of the current top-k, queued."""
        top = [text for text, _ in self.ranked()[: self.config.top_k]]
        if not top:
            return
        self._rounds += 1
        n = self.config.paraphrases_per_prompt
        added = await self.domain.generate(
            self.context,
            n_ape=0,
            parents=[parent for parent in top for _ in range(n)],
            config=self.domain_config,
        )
        self._queue += [entry.text for entry in added]

    def state_dict(self) -> dict[str, Any]:
        """See :meth:`DomainOptimizer.state_dict`; adds the paraphrase queue."""
        return {
            **super().state_dict(),
            "optimizer": self.name,
            "queue": list(self._queue),
            "rounds": self._rounds,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        super().load_state_dict(state)
        self._queue = [str(text) for text in state["queue"]]
        self._rounds = int(state["rounds"])
