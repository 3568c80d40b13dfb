"""Label corruption: deterministic, complete at rate 1, and a re-run whose answer is known."""

from __future__ import annotations

import re

import pytest

from optimizers.budget import Budget
from optimizers.diagnostics.label_corruption import (
    CorruptionConfig,
    corrupt_labels,
    label_corruption,
    label_set,
)
from optimizers.tasks.example import Example
from tests.unit.optimizer_fixtures import DEV, TEST, TRAIN, WORDS, proposer_model, small_ape

THREE = tuple(
    Example(id=str(i), input=f"x{i}", targets=(("red", "green", "blue")[i % 3],)) for i in range(30)
)


def test_every_label_changes_to_another_label_of_the_set_at_rate_one():
    corrupted = corrupt_labels(THREE, CorruptionConfig(rate=1.0, seed=0))
    assert len(corrupted) == len(THREE)
    for before, after in zip(THREE, corrupted, strict=True):
        assert (after.id, after.input) == (before.id, before.input)
        assert after.target != before.target
        assert after.target in ("red", "green", "blue")
        assert after.meta["true_targets"] == [before.target]


def test_corruption_is_deterministic_per_seed():
    first = corrupt_labels(THREE, CorruptionConfig(seed=7))
    assert corrupt_labels(THREE, CorruptionConfig(seed=7)) == first
    assert corrupt_labels(THREE, CorruptionConfig(seed=8)) != first


def test_a_rate_corrupts_exactly_that_share():
    half = corrupt_labels(THREE, CorruptionConfig(rate=0.5, seed=1))
    changed = [a.target != b.target for a, b in zip(THREE, half, strict=True)]
    assert sum(changed) == 15
    assert corrupt_labels(THREE, CorruptionConfig(rate=0.0)) == THREE


def test_the_label_set_can_be_given_and_is_case_insensitive():
    examples = (Example(id="a", input="a", targets=("Yes",)),)
    (corrupted,) = corrupt_labels(examples, CorruptionConfig(labels=("yes", "no", "YES")))
    assert corrupted.targets == ("no",)
    assert label_set((*examples, Example(id="b", input="b", targets=("yes.",)))) == ("Yes",)


def test_examples_with_several_targets_get_none_of_them():
    example = Example(id="a", input="a", targets=("red", "green"))
    (corrupted,) = corrupt_labels((example,), CorruptionConfig(labels=("red", "green", "blue")))
    assert corrupted.targets == ("blue",)
    with pytest.raises(ValueError, match="accepts every label"):
        corrupt_labels((example,), CorruptionConfig(labels=("red", "green")))


def test_one_label_is_not_enough():
    same = tuple(Example(id=str(i), input=str(i), targets=("yes",)) for i in range(3))
    with pytest.raises(ValueError, match=r"at least 2 distinct labels.*found 'yes'"):
        corrupt_labels(same)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), True])
def test_a_bad_rate_is_refused(rate):
    with pytest.raises(ValueError, match="rate must be a number in"):
        CorruptionConfig(rate=rate)


# ------------------------------------------------------------------------------ the re-run

DEMO = re.compile(r"Input: item \d+: it was (\w+)\nOutput: (\w+)")


def label_reading_proposer(message: str) -> str:
    """Induces the right instruction only from demos whose labels fit their words."""
    demos = DEMO.findall(message)
    if not demos:  # a paraphrase request
        return proposer_model(message)
    right = all((word in WORDS["positive"]) == (label == "positive") for word, label in demos)
    if right:
        return "The instruction was to classify the sentiment of each item."
    return "The instruction was to write down a single random word."


def label_blind_proposer(message: str) -> str:
    """Induces the right instruction from the demo inputs alone, whatever the labels say."""
    if not DEMO.findall(message):
        return proposer_model(message)
    return "The instruction was to classify the sentiment of each item."


@pytest.mark.usefixtures("one_torch_thread")
async def test_an_optimizer_that_learns_from_the_labels_loses_its_gain(optimizer_context):
    context = optimizer_context(proposer_rule=label_reading_proposer)
    budget = Budget(max_queries=4)
    report = await label_corruption(
        context, small_ape, dev=DEV, test=TEST, budget=budget, config=CorruptionConfig(seed=0)
    )
    assert report.optimizer == "ape"
    assert report.changed == report.n_train == len(TRAIN)
    clean, corrupted = report.clean, report.corrupted
    assert clean.best_prompt == "Classify the sentiment of each item."
    assert clean.best_test.mean == 1.0
    assert corrupted.best_test.mean == 0.5  # nothing better than the seed was written
    assert clean.arm.outcome.queries <= 4
    assert corrupted.arm.outcome.queries <= 4
    assert report.test_difference.diff == -0.5
    assert report.test_difference.interval.high < 0
    assert "The clean labels helped" in report.finding
    assert {r.run for r in context.store.trajectory("r1-clean")} == {"r1-clean"}
    assert context.store.trajectory("r1-corrupted")
    payload = report.to_dict()
    assert payload["clean"]["best_test"]["mean"] == 1.0
    assert payload["test_difference"]["ci95"][1] < 0


@pytest.mark.usefixtures("one_torch_thread")
async def test_an_optimizer_that_ignores_the_labels_shows_no_difference(optimizer_context):
    context = optimizer_context(proposer_rule=label_blind_proposer)
    report = await label_corruption(
        context, small_ape, dev=DEV, test=TEST, budget=Budget(max_queries=4)
    )
    assert report.clean.gain.diff == 0.5  # a real gain over the seed...
    assert report.clean.gain.interval.low > 0
    assert report.test_difference.diff == 0.0  # ...that wrong labels give just as well
    assert report.clean.best_prompt == report.corrupted.best_prompt
    assert "No evidence that the labels matter" in report.finding
    assert "Note:" not in report.finding
