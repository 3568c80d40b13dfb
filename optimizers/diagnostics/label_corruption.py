"""Label-corruption ablation: whether the optimizer's gain depends on the train labels.

The optimizer runs twice at equal budget from the same seed: once on the train
split as it is, once with its labels deterministically corrupted (each chosen
example gets a *different* label from the task's label set). Dev keeps its true
labels, so both runs select on the same honest signal. If the corrupted run's
chosen prompt scores as well on test as the clean one, the gain did not come
from what the labels taught the optimizer (the critique of textual gradients
in docs ALGORITHMS.md found exactly that).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optimizers.base import OptimizerContext
from optimizers.budget import Budget
from optimizers.diagnostics.rerun import (
    ArmEventFn,
    ArmResult,
    OptimizerFactory,
    comparison_dict,
    describe_difference,
    fork_context,
    read_difference,
    run_arm,
    score_on_test,
)
from optimizers.evaluation.evaluator import compare
from optimizers.evaluation.normalize import normalize_text
from optimizers.evaluation.stats import PairedComparison
from optimizers.tasks.example import Example


@dataclass(frozen=True, kw_only=True)
class CorruptionConfig:
    """Which train labels are corrupted, and into what.

    ``rate`` is the share of train examples whose label is replaced (exactly
    ``round(rate * n)`` of them, chosen with ``Random(seed)``); ``labels`` is the
    label set replacements come from (default: the distinct targets of the
    examples being corrupted).
    """

    rate: float = 1.0
    seed: int = 0
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not (
            isinstance(self.rate, int | float) and math.isfinite(self.rate) and 0 <= self.rate <= 1
        ):
            raise ValueError(f"rate must be a number in [0, 1], got {self.rate!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")


def label_set(examples: Sequence[Example]) -> tuple[str, ...]:
    """The distinct canonical targets, first-seen order (case and punctuation ignored)."""
    seen: dict[str, str] = {}
    for example in examples:
        seen.setdefault(normalize_text(example.target), example.target)
    return tuple(seen.values())


def corrupt_labels(
    examples: Sequence[Example], config: CorruptionConfig = CorruptionConfig()
) -> tuple[Example, ...]:
    """``examples`` with ``round(rate * n)`` labels replaced by a different label.

    Deterministic for a seed and an input order. A corrupted example has one
    target, a label from the set that matches none of its acceptable targets
    (compared normalised), and keeps its true targets in ``meta["true_targets"]``.
    Raises ``ValueError`` when the label set has fewer than two labels, or an
    example's targets cover every label (no wrong label exists for it).
    """
    labels = config.labels if config.labels is not None else label_set(examples)
    distinct = {normalize_text(label): label for label in labels}
    if len(distinct) < 2:
        found = ", ".join(repr(label) for label in distinct.values()) or "none"
        raise ValueError(
            f"label corruption needs at least 2 distinct labels to swap between; found {found}"
        )
    rng = random.Random(config.seed)
    count = round(config.rate * len(examples))
    chosen = set(rng.sample(range(len(examples)), count))
    corrupted = []
    for index, example in enumerate(examples):
        if index not in chosen:
            corrupted.append(example)
            continue
        true = {normalize_text(target) for target in example.targets}
        wrong = [label for key, label in distinct.items() if key not in true]
        if not wrong:
            raise ValueError(
                f"example {example.id} accepts every label ({', '.join(distinct.values())}); "
                "no wrong label is left to give it"
            )
        corrupted.append(
            dataclasses.replace(
                example,
                targets=(rng.choice(wrong),),
                meta={**example.meta, "true_targets": list(example.targets)},
            )
        )
    return tuple(corrupted)


@dataclass(frozen=True)
class LabelCorruptionReport:
    """Clean vs corrupted train labels, same optimizer, same seed, same budget."""

    optimizer: str
    config: CorruptionConfig
    changed: int  # train labels actually replaced
    n_train: int
    clean: ArmResult
    corrupted: ArmResult
    test_difference: PairedComparison  # corrupted − clean chosen prompt, paired on test
    dev_difference: PairedComparison  # the same on dev (what each search saw)

    @property
    def finding(self) -> str:
        """What the numbers say, in one or two sentences."""
        text = read_difference(
            "corrupted − clean on test",
            self.test_difference,
            above="The corrupted run did better: the labels did not help this optimizer.",
            below="The clean labels helped: the gain depends on them.",
            neither="No evidence that the labels matter: the 95% interval includes 0 "
            "(the optimizer did about as well with wrong labels).",
        )
        gain = self.clean.gain
        if gain.interval.low <= 0:
            text += (
                f" Note: the clean run's own test gain over the seed is not significant "
                f"({describe_difference(gain)}), so there is little gain to explain."
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """``promptpilot diagnose labels --json``."""
        return {
            "diagnostic": "labels",
            "optimizer": self.optimizer,
            "rate": self.config.rate,
            "corruption_seed": self.config.seed,
            "changed": self.changed,
            "n_train": self.n_train,
            "clean": self.clean.to_dict(),
            "corrupted": self.corrupted.to_dict(),
            "test_difference": comparison_dict(self.test_difference),
            "dev_difference": comparison_dict(self.dev_difference),
            "finding": self.finding,
        }


async def label_corruption(
    context: OptimizerContext,
    make_optimizer: OptimizerFactory,
    *,
    dev: Sequence[Example],
    test: Sequence[Example],
    budget: Budget,
    seed: int = 0,
    config: CorruptionConfig = CorruptionConfig(),
    on_event: ArmEventFn | None = None,
) -> LabelCorruptionReport:
    """Run the optimizer on clean and on corrupted train labels, then compare on test.

    Both arms fork ``context`` with the optimizer seed ``seed`` (same random
    draws) and run at ``budget`` on the same ``dev``; test is scored after both.
    """
    corrupted_train = corrupt_labels(context.train, config)
    changed = sum(
        a.targets != b.targets for a, b in zip(context.train, corrupted_train, strict=True)
    )
    arms = []
    for label, train in (("clean", context.train), ("corrupted", corrupted_train)):
        fork = fork_context(context, run=f"{context.run}-{label}", seed=seed, train=train)
        optimizer = make_optimizer(fork)
        arms.append(await run_arm(label, optimizer, fork, dev, budget, on_event))
    clean, corrupted = await score_on_test(arms, context.evaluator, context.seed_prompt, test)
    return LabelCorruptionReport(
        optimizer=clean.arm.optimizer,
        config=config,
        changed=changed,
        n_train=len(context.train),
        clean=clean,
        corrupted=corrupted,
        test_difference=compare(clean.best_test, corrupted.best_test),
        dev_difference=compare(clean.best_dev, corrupted.best_dev),
    )
