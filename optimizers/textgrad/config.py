"""Settings of the textual-gradient baseline (ProTeGi-style; see docs ALGORITHMS.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Feedback = Literal["errors", "none"]


@dataclass(frozen=True, kw_only=True)
class TextGradConfig:
    """How :class:`~optimizers.textgrad.optimizer.TextGrad` runs; validated on construction.

    Defaults follow the reference description: minibatch of 8, up to 4 errors, a
    beam of 4. ``feedback="none"`` is the ablation of Melcer et al.: the same
    search at the same budget, but the rewrite never sees errors or a critique.
    """

    minibatch_size: int = field(
        default=8, metadata={"doc": "train examples a beam prompt is run on to find its errors"}
    )
    max_errors: int = field(
        default=4, metadata={"doc": "failing examples shown to the gradient and edit prompts"}
    )
    edits_per_gradient: int = field(
        default=2, metadata={"doc": "independent edit samples asked for per critique"}
    )
    paraphrase: bool = field(
        default=False, metadata={"doc": "Monte-Carlo expansion: one paraphrase per edit"}
    )
    beam_width: int = field(
        default=4, metadata={"doc": "best dev-scored prompts kept and expanded"}
    )
    select_per_round: int = field(
        default=4, metadata={"doc": "new candidates per round sent to the runner for a dev query"}
    )
    ucb_c: float = field(
        default=1.0, metadata={"doc": "UCB1 exploration constant: mean + c·sqrt(ln t / n)"}
    )
    ucb_pulls_per_arm: int = field(
        default=2, metadata={"doc": "UCB budget: pulls per new candidate (each pulled once first)"}
    )
    ucb_minibatch_size: int | None = field(
        default=None, metadata={"doc": "train examples per UCB pull (None: minibatch_size)"}
    )
    rounds: int | None = field(
        default=None, metadata={"doc": "expansion rounds (None: the context's total_steps)"}
    )
    feedback: Feedback = field(
        default="errors",
        metadata={"doc": "'errors' (critique from failures) or 'none' (plain rewrite, ablation)"},
    )
    operator_fallback: bool = field(
        default=True,
        metadata={"doc": "propose operator neighbours when no proposal is usable (no model)"},
    )

    def __post_init__(self) -> None:
        positive_ints = {
            "minibatch_size": self.minibatch_size,
            "max_errors": self.max_errors,
            "edits_per_gradient": self.edits_per_gradient,
            "beam_width": self.beam_width,
            "select_per_round": self.select_per_round,
            "ucb_pulls_per_arm": self.ucb_pulls_per_arm,
            "ucb_minibatch_size": self.ucb_minibatch_size,
            "rounds": self.rounds,
        }
        for name, value in positive_ints.items():
            if value is None and name in ("ucb_minibatch_size", "rounds"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.paraphrase, bool):
            raise ValueError(f"paraphrase must be True or False, got {self.paraphrase!r}")
        c = self.ucb_c
        if (
            isinstance(c, bool)
            or not isinstance(c, int | float)
            or not (math.isfinite(c) and c >= 0)
        ):
            raise ValueError(f"ucb_c must be a finite number >= 0, got {c!r}")
        if self.feedback not in ("errors", "none"):
            raise ValueError(f"feedback must be 'errors' or 'none', got {self.feedback!r}")

    @property
    def pull_size(self) -> int:
        """Train examples per UCB pull."""
        return self.ucb_minibatch_size or self.minibatch_size
