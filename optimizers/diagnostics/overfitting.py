"""Overfitting guard: how far the chosen prompt's dev score overstates its test score.

The chosen prompt is the best of many on dev, so its dev score is biased
upwards (the winner's curse) and some dev-test gap is expected. Splits also
differ by chance, which the *seed* prompt's gap measures: it was not selected.
The guard reports

- the chosen prompt's **gap**, dev mean − test mean (different examples, so an
  unpaired bootstrap interval);
- the seed's gap, and the **excess gap** = (dev gain) − (test gain) of chosen
  over seed, each gain paired within its split: how much of the dev
  improvement did not carry over to test;
- train examples the chosen prompt copies verbatim
  (:mod:`optimizers.diagnostics.verbatim`).

Warnings: the excess gap's 95% interval lies above 0 (the dev gain overstates
the test gain), or the chosen prompt copies a train example that the seed
prompt did not already contain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizers.diagnostics.rerun import score_dict
from optimizers.diagnostics.verbatim import MIN_WORDS, NGRAM, VerbatimCopy, verbatim_copies
from optimizers.evaluation.evaluator import EvalResult
from optimizers.evaluation.stats import Interval
from optimizers.tasks.example import Example

N_RESAMPLES = 2000


@dataclass(frozen=True)
class Difference:
    """A difference of two means from independent samples, with its interval."""

    diff: float
    interval: Interval

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"diff": self.diff, "ci95": [self.interval.low, self.interval.high]}

    def describe(self) -> str:
        """``+0.150 [95% CI +0.020, +0.280]``."""
        return f"{self.diff:+.3f} [95% CI {self.interval.low:+.3f}, {self.interval.high:+.3f}]"


def unpaired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> Difference:
    """``mean(a) − mean(b)`` with a percentile bootstrap resampling ``a`` and ``b`` independently.

    For samples of different examples (dev and test), where a paired comparison
    does not apply.
    """
    first, second = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if first.size == 0 or second.size == 0:
        raise ValueError(
            f"unpaired_difference needs scores on both sides, got {first.size} and {second.size}"
        )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    means_a = first[rng.integers(0, first.size, (n_resamples, first.size))].mean(axis=1)
    means_b = second[rng.integers(0, second.size, (n_resamples, second.size))].mean(axis=1)
    diff = float(first.mean() - second.mean())
    alpha = 1.0 - confidence
    low, high = np.quantile(means_a - means_b, [alpha / 2, 1 - alpha / 2])
    return Difference(diff, Interval(min(float(low), diff), max(float(high), diff), confidence))


@dataclass(frozen=True)
class OverfitReport:
    """The chosen prompt's dev-test gap against the seed's, and verbatim train copies."""

    seed_dev: EvalResult
    seed_test: EvalResult
    best_dev: EvalResult
    best_test: EvalResult
    gap: Difference  # best: dev − test
    seed_gap: Difference  # seed: dev − test
    excess_gap: Difference  # (best − seed on dev) − (best − seed on test)
    copies: tuple[VerbatimCopy, ...]

    @property
    def warnings(self) -> list[str]:
        """Plain-language warnings (empty when nothing looks wrong)."""
        out = []
        if self.excess_gap.interval.low > 0:
            out.append(
                f"the dev gain overstates the test gain by {self.excess_gap.describe()}: the "
                "chosen prompt's dev score is optimistic (selected on dev)"
            )
        for copy in self.copies:
            if not copy.in_seed:
                out.append(f"the prompt copies {copy.describe()}")
        return out

    @property
    def finding(self) -> str:
        """The gaps and the warnings in a few sentences."""
        text = (
            f"chosen prompt dev − test {self.gap.describe()}; seed dev − test "
            f"{self.seed_gap.describe()}; excess {self.excess_gap.describe()}."
        )
        warnings = self.warnings
        if warnings:
            return text + " Warning: " + "; ".join(warnings) + "."
        return text + " No warning."

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` payload."""
        return {
            "diagnostic": "overfit",
            "seed_prompt": self.seed_dev.prompt,
            "best_prompt": self.best_dev.prompt,
            "seed": {"dev": score_dict(self.seed_dev), "test": score_dict(self.seed_test)},
            "best": {"dev": score_dict(self.best_dev), "test": score_dict(self.best_test)},
            "gap": self.gap.to_dict(),
            "seed_gap": self.seed_gap.to_dict(),
            "excess_gap": self.excess_gap.to_dict(),
            "copies": [copy.to_dict() for copy in self.copies],
            "warnings": self.warnings,
            "finding": self.finding,
        }


def _paired_differences(a: EvalResult, b: EvalResult) -> list[float]:
    if [r.example_id for r in a.examples] != [r.example_id for r in b.examples]:
        raise ValueError(
            f"the seed and the chosen prompt must be scored on the same {a.split} examples "
            f"({a.n} and {b.n} given, or in another order)"
        )
    return [y - x for x, y in zip(a.scores, b.scores, strict=True)]


def overfit_guard(
    *,
    seed_dev: EvalResult,
    seed_test: EvalResult,
    best_dev: EvalResult,
    best_test: EvalResult,
    train: Sequence[Example],
    min_words: int = MIN_WORDS,
    ngram: int = NGRAM,
    seed: int = 0,
) -> OverfitReport:
    """Gaps with intervals, and the train examples the chosen prompt copies."""
    dev_gain = _paired_differences(seed_dev, best_dev)
    test_gain = _paired_differences(seed_test, best_test)
    return OverfitReport(
        seed_dev=seed_dev,
        seed_test=seed_test,
        best_dev=best_dev,
        best_test=best_test,
        gap=unpaired_difference(best_dev.scores, best_test.scores, seed=seed),
        seed_gap=unpaired_difference(seed_dev.scores, seed_test.scores, seed=seed),
        excess_gap=unpaired_difference(dev_gain, test_gain, seed=seed),
        copies=tuple(
            verbatim_copies(
                best_dev.prompt,
                train,
                seed_prompt=seed_dev.prompt,
                min_words=min_words,
                ngram=ngram,
            )
        ),
    )
