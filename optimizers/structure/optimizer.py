"""Structured local search: improve a prompt by its parts, with no optimizer model.

The first step tries what a person would add to a weak prompt (an output spec read
from the train targets, a few label-balanced demonstrations, both, the chat layout);
every later step proposes neighbours of the best prompt so far with the operators of
:mod:`optimizers.structure.operators`, drawing operators in proportion to how often
each has beaten its parent in this run. Racing (in the runner) makes a bad neighbour
cost a few calls, so many can be tried. It works with any task model, and so is what
a run on a small local model starts with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.propose.rng_state import rng_state_from_json, rng_state_to_json
from optimizers.registry import STRUCTURE
from optimizers.structure.operators import Moves, neighbours


@dataclass(frozen=True, kw_only=True)
class StructureConfig:
    """How structured search runs."""

    batch_size: int = field(default=6, metadata={"doc": "neighbours proposed per step"})

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")


class StructureSearch(Optimizer):
    """Opening moves from the seed, then operator neighbours of the incumbent."""

    name: ClassVar[str] = STRUCTURE
    queries_per_step: ClassVar[int] = 6

    def __init__(self, context: OptimizerContext, config: StructureConfig | None = None) -> None:
        super().__init__(context)
        self.config = config or StructureConfig()
        self.moves = Moves(train=context.train, embed=context.embedder.embed)
        self.seen: dict[str, float] = {}  # key -> dev score (partial when raced out)
        self.best = StructuredPrompt.plain(context.seed_prompt)
        self.best_score = float("-inf")
        self.stats: dict[str, list[int]] = {}  # operator -> [wins, tries]
        self.opened = False
        self.stopped = ""

    async def ask(self) -> list[Candidate]:
        """The opening moves first, then ``batch_size`` untried neighbours of the best prompt."""
        self.step += 1
        rng = self.context.rng
        if not self.opened:
            self.opened = True
            moves = [m for m in self.moves.opening(self.best, rng) if m[0].key not in self.seen]
        else:
            weights = {name: (w + 1) / (t + 2) for name, (w, t) in self.stats.items()}
            moves = neighbours(
                self.moves, self.best, rng,
                count=self.config.batch_size, weights=weights, exclude=list(self.seen),
            )  # fmt: skip
        if not moves:
            self.stopped = "no untried neighbour of the best prompt"
        parent = Candidate.structured(self.best, source=STRUCTURE, step=0).identity
        return [
            Candidate.structured(
                prompt,
                source=STRUCTURE,
                step=self.step,
                parents=(parent,),
                meta={"operator": operator, "parent_score": self.best_score},
            )
            for prompt, operator in moves
        ]

    def tell(self, scored: Sequence[Scored]) -> None:
        """Remember scores; a fully scored prompt better than the best becomes the incumbent."""
        for item in scored:
            candidate = item.candidate
            self.seen[candidate.key] = item.score
            operator = candidate.meta.get("operator") if candidate.source == self.name else None
            if operator is not None and not item.reused:
                wins, tries = self.stats.get(operator, [0, 0])
                won = item.complete and item.score > candidate.meta.get("parent_score", 0.0)
                self.stats[operator] = [wins + int(won), tries + 1]
            if item.complete and item.score > self.best_score:
                self.best, self.best_score = candidate.parts, item.score

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`ask` depends on, as JSON."""
        return {
            **super().state_dict(),
            "optimizer": self.name,
            "rng": rng_state_to_json(self.context.rng),
            "seen": self.seen,
            "best": self.best.parts(),
            "best_score": self.best_score if self.best_score > float("-inf") else None,
            "stats": self.stats,
            "opened": self.opened,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        super().load_state_dict(state)
        rng_state_from_json(self.context.rng, state["rng"])
        self.seen = {str(k): float(v) for k, v in state["seen"].items()}
        self.best = StructuredPrompt.from_parts(state["best"])
        score = state["best_score"]
        self.best_score = float("-inf") if score is None else float(score)
        self.stats = {str(k): [int(w), int(t)] for k, (w, t) in state["stats"].items()}
        self.opened = bool(state["opened"])
