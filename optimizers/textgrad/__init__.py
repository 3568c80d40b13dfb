"""Textual-gradient baseline: critique errors, edit, UCB-select on train, beam on dev (ProTeGi)."""

from optimizers.textgrad.bandit import UCB1, run_ucb
from optimizers.textgrad.config import TextGradConfig
from optimizers.textgrad.optimizer import TextGrad, collect_errors

__all__ = ["UCB1", "TextGrad", "TextGradConfig", "collect_errors", "run_ucb"]
