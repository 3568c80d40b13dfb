"""Random search over the candidate domain: the yardstick any search method must beat.

ZOPO's claim is that its local search finds good prompts in fewer queries than trying
candidates at random; with both drawing on the same domain at the same budget, the
comparison measures only the choosing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from optimizers.base import Candidate, OptimizerContext
from optimizers.propose.domain import CandidateDomain
from optimizers.propose.domain_config import DomainConfig
from optimizers.propose.domain_optimizer import DomainOptimizer
from optimizers.registry import RANDOM


@dataclass(frozen=True, kw_only=True)
class RandomSearchConfig:
    """How random search runs."""

    domain: DomainConfig = field(default_factory=DomainConfig)
    batch_size: int = field(default=1, metadata={"doc": "candidates per ask"})
    grow: bool = field(
        default=True, metadata={"doc": "add candidates when all are scored (as ZOPO does)"}
    )

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")


class RandomSearch(DomainOptimizer):
    """Uniformly random unscored candidates from the domain, drawn with ``context.rng``."""

    name: ClassVar[str] = RANDOM

    def __init__(
        self,
        context: OptimizerContext,
        config: RandomSearchConfig | None = None,
        *,
        domain: CandidateDomain | None = None,
    ) -> None:
        self.config = config or RandomSearchConfig()
        super().__init__(context, domain_config=self.config.domain, domain=domain)

    async def ask(self) -> list[Candidate]:
        """Up to ``batch_size`` unscored candidates; grows the domain once it is used up."""
        self.step += 1
        await self.ensure_domain()
        free = self.unscored()
        if not free and self.config.grow:
            await self.grow()
            free = self.unscored()
        if not free:
            return []
        picks = self.context.rng.sample(free, min(self.config.batch_size, len(free)))
        return [self.candidate(entry, self.name) for entry in picks]

    def state_dict(self) -> dict[str, Any]:
        """See :meth:`DomainOptimizer.state_dict`."""
        return {**super().state_dict(), "optimizer": self.name}
