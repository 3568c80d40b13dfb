"""Proposal vs selection: equal counts, the same selection, and a known difference."""

from __future__ import annotations

import pytest

from optimizers.budget import Budget
from optimizers.diagnostics.proposal_selection import FixedCandidates, proposal_vs_selection
from tests.unit.optimizer_fixtures import (
    DEV,
    SEED_PROMPT,
    STYLE_WORDS,
    TEST,
    proposer_model,
    run_optimizer,
    small_ape,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sentiment_proposer(message: str) -> str:
    """APE requests: the instruction that works; paraphrases as the default fake writes them."""
    if "<START>" in message:
        return proposer_model(message)
    return "The instruction was to classify the sentiment of each item."


async def test_the_optimizers_proposals_beat_as_many_paraphrases(optimizer_context):
    context = optimizer_context(proposer_rule=sentiment_proposer)
    report = await proposal_vs_selection(
        context, small_ape, dev=DEV, test=TEST, budget=Budget(max_queries=4)
    )
    assert report.wanted == len(report.optimizer.arm.proposed) == 3
    assert report.kept == report.wanted
    assert report.equal_counts
    paraphrases = [s.candidate.text for s in report.paraphrases.arm.proposed]
    assert all(text.startswith(SEED_PROMPT + " ") for text in paraphrases)
    assert all(text.split(" ", 3)[3] in STYLE_WORDS.values() for text in paraphrases)
    assert report.paraphrases.arm.outcome.queries == 4  # the seed and the 3 paraphrases
    assert report.optimizer.best_test.mean == 1.0
    assert report.paraphrases.best_test.mean == 0.5  # the fake model ignores the style words
    assert report.test_difference.diff == 0.5
    assert report.test_difference.interval.low > 0
    assert "The optimizer's proposals beat selection" in report.finding
    payload = report.to_dict()
    assert payload["candidates"] == payload["paraphrases"] == 3
    assert len(payload["paraphrase_samples"]) >= 3


async def test_fewer_usable_paraphrases_are_reported_not_hidden(optimizer_context):
    def stubborn(message: str) -> str:  # paraphrases come back as the seed: all rejected
        if "<START>" in message:
            return f"<START>{SEED_PROMPT}<END>"
        return sentiment_proposer(message)

    context = optimizer_context(proposer_rule=stubborn)
    report = await proposal_vs_selection(
        context, small_ape, dev=DEV, test=TEST, budget=Budget(max_queries=4)
    )
    assert report.kept == 0 < report.wanted
    assert not report.equal_counts
    assert report.paraphrases.best_prompt == SEED_PROMPT
    assert "Counts differ" in report.finding
    assert len(report.generated) == 4 * report.wanted  # the attempts are bounded


async def test_fixed_candidates_select_like_any_optimizer(optimizer_context):
    context = optimizer_context()
    texts = ["Say the sentiment.", "Say the review.", "Answer the question. Be exact."]
    optimizer = FixedCandidates(context, texts, source="paraphrase")
    outcome = await run_optimizer(optimizer, context, queries=4)
    assert [s.candidate.text for s in outcome.history] == [SEED_PROMPT, *texts]
    assert outcome.best.candidate.text == "Say the sentiment."
    assert outcome.stopped == "budget: queries"
