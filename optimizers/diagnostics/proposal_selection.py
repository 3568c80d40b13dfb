"""Proposal vs selection: the optimizer's candidates against plain paraphrases of the seed.

An optimizer does two things: it *proposes* candidates and the runner *selects*
the best on dev. Selection alone helps whenever there are many candidates (the
critique in docs ALGORITHMS.md). This diagnostic gives selection the same
chance without the optimizer's proposals: as many paraphrases of the seed
prompt as the optimizer scored candidates, scored on the same dev split by the
same runner and chosen the same way (best on dev, the seed included), then both
chosen prompts are scored on test and compared, paired by example.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored
from optimizers.budget import Budget
from optimizers.diagnostics.rerun import (
    ArmEventFn,
    ArmResult,
    OptimizerFactory,
    comparison_dict,
    fork_context,
    read_difference,
    run_arm,
    score_on_test,
)
from optimizers.evaluation.evaluator import compare
from optimizers.evaluation.stats import PairedComparison
from optimizers.propose.generation import GeneratedPrompt, Sampling, paraphrase
from optimizers.tasks.example import Example

PARAPHRASE_FIRST_SAMPLE = 100_000
"""Sample indices of the paraphrase arm start here, clear of those the optimizer uses,
so the response cache never hands this arm an answer the optimizer was given."""

ATTEMPTS_PER_PARAPHRASE = 4
"""Calls allowed per wanted paraphrase: a weak model rejects many samples."""


class FixedCandidates(Optimizer):
    """Proposes a fixed list of prompts in one round: selection with no proposal of its own."""

    name: ClassVar[str] = "paraphrases"

    def __init__(self, context: OptimizerContext, texts: Sequence[str], source: str) -> None:
        super().__init__(context)
        self.texts = tuple(texts)
        self.source = source

    async def ask(self) -> list[Candidate]:
        """Every text on the first ask, nothing after."""
        self.step += 1
        if self.step > 1:
            return []
        return [
            Candidate(text=text, source=self.source, step=1, parents=(self.context.seed_prompt,))
            for text in self.texts
        ]

    def tell(self, scored: Sequence[Scored]) -> None:
        """Nothing to learn: the list is fixed."""


@dataclass(frozen=True)
class ProposalSelectionReport:
    """The optimizer's chosen prompt against the best of as many seed paraphrases."""

    optimizer: ArmResult
    paraphrases: ArmResult
    wanted: int  # candidates the optimizer scored on dev (the seed excluded)
    generated: tuple[GeneratedPrompt, ...]  # every paraphrase sample, kept or rejected
    test_difference: PairedComparison  # optimizer − paraphrases, chosen prompts, on test
    dev_difference: PairedComparison

    @property
    def kept(self) -> int:
        """Paraphrases that were scored (the seed excluded)."""
        return len(self.paraphrases.arm.proposed)

    @property
    def equal_counts(self) -> bool:
        """Both arms selected among the same number of candidates."""
        return self.kept == self.wanted

    @property
    def finding(self) -> str:
        """What the numbers say."""
        if self.wanted == 0:
            return "The optimizer scored no candidate besides the seed: nothing to compare."
        text = read_difference(
            f"optimizer − paraphrases on test ({self.wanted} vs {self.kept} candidates)",
            self.test_difference,
            above="The optimizer's proposals beat selection among seed paraphrases.",
            below="Selection among paraphrases of the seed did better than the optimizer.",
            neither="No evidence that the proposals matter: as many paraphrases of the seed, "
            "selected the same way, did about as well.",
        )
        if not self.equal_counts:
            text += (
                f" Counts differ: the optimizer model wrote only {self.kept} usable "
                f"paraphrases of {self.wanted} wanted."
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """``promptpilot diagnose proposals --json``."""
        return {
            "diagnostic": "proposals",
            "optimizer": self.optimizer.arm.optimizer,
            "candidates": self.wanted,
            "paraphrases": self.kept,
            "equal_counts": self.equal_counts,
            "optimizer_arm": self.optimizer.to_dict(),
            "paraphrase_arm": self.paraphrases.to_dict(),
            "paraphrase_samples": [
                {"text": g.text, "kept": g.kept, "reason": g.reason} for g in self.generated
            ],
            "test_difference": comparison_dict(self.test_difference),
            "dev_difference": comparison_dict(self.dev_difference),
            "finding": self.finding,
        }


async def proposal_vs_selection(
    context: OptimizerContext,
    make_optimizer: OptimizerFactory,
    *,
    dev: Sequence[Example],
    test: Sequence[Example],
    budget: Budget,
    seed: int = 0,
    on_event: ArmEventFn | None = None,
) -> ProposalSelectionReport:
    """Run the optimizer, then select among as many seed paraphrases; compare on test.

    The paraphrase arm writes its prompts with the context's optimizer model
    (:func:`optimizers.propose.generation.paraphrase`, up to
    :data:`ATTEMPTS_PER_PARAPHRASE` calls per wanted prompt) and scores them, with
    the seed, within a budget of one query per prompt.
    """
    fork = fork_context(context, run=f"{context.run}-optimizer", seed=seed)
    optimizer_arm = await run_arm("optimizer", make_optimizer(fork), fork, dev, budget, on_event)
    wanted = len(optimizer_arm.proposed)
    generated: list[GeneratedPrompt] = []
    texts: list[str] = []
    if wanted:
        sampling = Sampling(
            n=wanted,
            rng=random.Random(seed),
            start_sample=PARAPHRASE_FIRST_SAMPLE,
            directives=context.directives,
            max_attempts=ATTEMPTS_PER_PARAPHRASE * wanted,
            log=generated,
        )
        kept = await paraphrase(context.proposer, context.seed_prompt, sampling)
        texts = [prompt.text for prompt in kept]
    fork = fork_context(context, run=f"{context.run}-paraphrases", seed=seed)
    selection = FixedCandidates(fork, texts, source="paraphrase")
    paraphrase_arm = await run_arm(
        "paraphrases", selection, fork, dev, Budget(max_queries=len(texts) + 1), on_event
    )
    tested, paraphrased = await score_on_test(
        [optimizer_arm, paraphrase_arm], context.evaluator, context.seed_prompt, test
    )
    return ProposalSelectionReport(
        optimizer=tested,
        paraphrases=paraphrased,
        wanted=wanted,
        generated=tuple(generated),
        test_difference=compare(paraphrased.best_test, tested.best_test),
        dev_difference=compare(paraphrased.best_dev, tested.best_dev),
    )
