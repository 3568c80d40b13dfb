"""Re-running an optimizer for a diagnostic: two arms, equal budgets, test scored after both.

The diagnostics that re-run an optimizer (label corruption, proposal vs
selection) compare two *arms* that differ in one thing only. Each arm gets a
fork of the same :class:`~optimizers.base.OptimizerContext` (its own run name
in the prompt memory, the same seeded random stream), runs inside the common
:class:`~optimizers.runner.Runner` at the same budget, and only once every
search is over are the seed and the chosen prompts scored on test.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from optimizers.base import Optimizer, OptimizerContext, Scored
from optimizers.budget import Budget
from optimizers.evaluation.evaluator import EvalResult, Evaluator, compare
from optimizers.evaluation.stats import PairedComparison
from optimizers.events import RunEvent
from optimizers.outcome import RunOutcome
from optimizers.runner import Runner
from optimizers.tasks.example import Example

OptimizerFactory = Callable[[OptimizerContext], Optimizer]
"""Builds a fresh optimizer for a context (so both arms start from nothing)."""

ArmEventFn = Callable[[str, RunEvent], None]
"""Progress of the arms: ``(arm label, runner event)``."""


def fork_context(
    context: OptimizerContext,
    *,
    run: str,
    seed: int,
    train: Sequence[Example] | None = None,
) -> OptimizerContext:
    """A copy of ``context`` for one arm: its own run name, a fresh ``Random(seed)``.

    Both arms of a diagnostic fork with the same ``seed``, so the only difference
    between them is the one the diagnostic makes (e.g. the ``train`` labels).
    """
    return replace(
        context,
        run=run,
        rng=random.Random(seed),
        train=context.train if train is None else tuple(train),
    )


@dataclass(frozen=True)
class SearchArm:
    """One arm's search: what it found on dev and what it paid."""

    label: str
    optimizer: str  # its registered name
    outcome: RunOutcome
    calls: int  # paid LLM calls of both models during the search
    seconds: float

    @property
    def proposed(self) -> list[Scored]:
        """The distinct candidates it scored on dev, the seed excluded."""
        return [s for s in self.outcome.history[1:] if not s.reused]


async def run_arm(
    label: str,
    optimizer: Optimizer,
    context: OptimizerContext,
    dev: Sequence[Example],
    budget: Budget,
    on_event: ArmEventFn | None = None,
) -> SearchArm:
    """Run ``optimizer`` on dev within ``budget`` (no test data is involved)."""
    forward = None if on_event is None else (lambda event: on_event(label, event))
    runner = Runner(optimizer, context, dev, budget, on_event=forward)
    outcome = await runner.run()
    return SearchArm(label, optimizer.name, outcome, runner.search.calls, outcome.wall_time_s)


@dataclass(frozen=True)
class ArmResult:
    """An arm whose seed and chosen prompts were scored on test after every search ended."""

    arm: SearchArm
    seed_test: EvalResult
    best_test: EvalResult

    @property
    def best_prompt(self) -> str:
        """The prompt the arm chose (best on dev)."""
        return self.arm.outcome.best.candidate.text

    @property
    def best_dev(self) -> EvalResult:
        """The chosen prompt's dev evaluation."""
        return self.arm.outcome.best.dev

    @property
    def gain(self) -> PairedComparison:
        """Chosen minus seed on test, paired by example."""
        return compare(self.seed_test, self.best_test)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary of the arm."""
        outcome = self.arm.outcome
        return {
            "label": self.arm.label,
            "optimizer": self.arm.optimizer,
            "best_prompt": self.best_prompt,
            "best_source": outcome.best.candidate.source,
            "seed_dev": score_dict(outcome.seed.dev),
            "best_dev": score_dict(self.best_dev),
            "seed_test": score_dict(self.seed_test),
            "best_test": score_dict(self.best_test),
            "test_gain": comparison_dict(self.gain),
            "dev_queries": outcome.queries,
            "candidates": len(self.arm.proposed),
            "calls": self.arm.calls,
            "wall_time_s": self.arm.seconds,
            "stopped": outcome.stopped,
        }


async def score_on_test(
    arms: Sequence[SearchArm],
    evaluator: Evaluator,
    seed_prompt: str,
    test: Sequence[Example],
) -> list[ArmResult]:
    """Score the seed once and each arm's chosen prompt on test (cached repeats are free)."""
    seed_test = await evaluator.evaluate(seed_prompt, test, split="test")
    results = []
    for arm in arms:
        best = arm.outcome.best.candidate.text
        best_test = await evaluator.evaluate(best, test, split="test")
        results.append(ArmResult(arm, seed_test, best_test))
    return results


def score_dict(result: EvalResult) -> dict[str, Any]:
    """A score as reports show it: split, mean, 95% interval, n."""
    return {
        "split": result.split,
        "mean": result.mean,
        "ci95": [result.interval.low, result.interval.high],
        "n": result.n,
    }


def comparison_dict(comparison: PairedComparison) -> dict[str, Any]:
    """A paired comparison as reports show it (the interval flattened to ``ci95``)."""
    return {
        "n": comparison.n,
        "mean_a": comparison.mean_a,
        "mean_b": comparison.mean_b,
        "diff": comparison.diff,
        "ci95": [comparison.interval.low, comparison.interval.high],
        "wins": comparison.wins,
        "losses": comparison.losses,
        "ties": comparison.ties,
        "p_value": comparison.p_value,
    }


def describe_difference(comparison: PairedComparison) -> str:
    """``+0.125 [95% CI +0.050, +0.200], p = 0.004, n = 40``."""
    low, high = comparison.interval.low, comparison.interval.high
    return (
        f"{comparison.diff:+.3f} [95% CI {low:+.3f}, {high:+.3f}], "
        f"p = {comparison.p_value:.3g}, n = {comparison.n}"
    )


def read_difference(
    label: str, comparison: PairedComparison, *, above: str, below: str, neither: str
) -> str:
    """``label: <difference>. `` and the sentence its 95% interval supports."""
    if comparison.interval.low > 0:
        verdict = above
    elif comparison.interval.high < 0:
        verdict = below
    else:
        verdict = neither
    return f"{label}: {describe_difference(comparison)}. {verdict}"
