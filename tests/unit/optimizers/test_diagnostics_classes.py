"""Class shares and confusion matrices on fake models whose predictions are known."""

from __future__ import annotations

import pytest

from optimizers.diagnostics.class_shares import OTHER, class_shares
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.tasks.example import Example
from tests.fakes import fake_backend

# 6 positive and 4 negative examples: "positive" is the majority class.
LABELS = ["positive"] * 6 + ["negative"] * 4
EXAMPLES = tuple(
    Example(id=f"e{i}", input=f"item {i} is {label}", targets=(label,))
    for i, label in enumerate(LABELS)
)


def truth(message: str) -> str:
    return "positive" if "is positive" in message else "negative"


def item(message: str) -> int:
    return int(message.split("item ")[1].split()[0])


def model(message: str) -> str:
    """Each prompt behaves as its first word says."""
    if message.startswith("Always"):
        return "Positive."  # normalised to the label "positive"
    if message.startswith("Confused"):
        return "I am not sure what you mean"
    if message.startswith("Failing"):
        raise RuntimeError("HTTP 400: rejected")
    if message.startswith("Half"):  # right on items 0-2 and 6-7, "positive" elsewhere
        return truth(message) if item(message) in (0, 1, 2, 6, 7) else "positive"
    if message.startswith("Right"):
        return truth(message)
    if message.startswith("Never"):  # the minority class throughout
        return "negative"
    if message.startswith("Lean"):  # "positive" except on item 6
        return "negative" if item(message) == 6 else "positive"
    raise AssertionError(message)


@pytest.fixture
def evaluator():
    return Evaluator(ChatCaller(fake_backend(model)), metric=get_metric("exact"))


async def shares(evaluator, initial, final, examples=EXAMPLES, **options):
    first = await evaluator.evaluate(initial, examples, split="test")
    second = await evaluator.evaluate(final, examples, split="test")
    return class_shares(first, second, **options)


async def test_a_model_that_always_answers_positive(evaluator):
    report = await shares(evaluator, "Confused prompt.", "Always positive.")
    assert report.labels == ("positive", "negative")  # most frequent true class first
    assert report.true_shares == {"positive": 0.6, "negative": 0.4}
    assert report.final.shares == {"positive": 1.0, "negative": 0.0, OTHER: 0.0}
    assert report.final.confusion == {
        "positive": {"positive": 6, "negative": 0, OTHER: 0},
        "negative": {"positive": 4, "negative": 0, OTHER: 0},
    }
    assert report.initial.shares == {"positive": 0.0, "negative": 0.0, OTHER: 1.0}
    assert report.initial.confusion["negative"] == {"positive": 0, "negative": 0, OTHER: 4}
    assert report.final.recall == {"positive": 1.0, "negative": 0.0}
    assert report.final.accuracy == pytest.approx(0.6)
    assert report.final.balanced_accuracy == pytest.approx(0.5)
    assert report.metric_difference.diff == pytest.approx(0.6)  # the exact metric agrees


async def test_a_gain_only_from_predicting_the_majority_class_is_flagged(evaluator):
    report = await shares(evaluator, "Confused prompt.", "Always positive.")
    assert report.majority_class == "positive"
    assert report.shift.diff == pytest.approx(1.0)
    assert report.shift.interval.low > 0.5
    assert report.prevalence_hacking
    assert report.finding.startswith("Prevalence hacking")
    assert "answers 'positive' on 100% of the examples" in report.finding
    payload = report.to_dict()
    assert payload["prevalence_hacking"] is True
    assert payload["labels"] == ["positive", "negative", OTHER]


async def test_a_gain_mostly_on_the_majority_is_flagged(evaluator):
    # From "Confused" to "Lean": 7 more right answers, 6 of them positives (86% of the gain,
    # for 60% of the examples); recall 1.00 on positive, 0.25 on negative.
    report = await shares(evaluator, "Confused prompt.", "Lean positive.")
    assert report.gain_on_majority == pytest.approx(6 / 7)
    assert report.final.recall_outside("positive") == 0.25
    assert report.prevalence_hacking
    assert "86% of the extra correct answers are on 'positive' examples" in report.finding


async def test_fixing_an_over_predicted_majority_is_not_flagged(evaluator):
    # "Half" predicts positive on 8 of 10; "Right" on 6 of 10: the gain comes from the
    # negatives it now gets right (2 -> 4), predictions move away from the majority.
    report = await shares(evaluator, "Half right.", "Right always.")
    assert report.initial.confusion["negative"] == {"positive": 2, "negative": 2, OTHER: 0}
    assert report.final.accuracy == 1.0
    assert report.shift.diff == pytest.approx(-0.2)
    assert not report.prevalence_hacking
    assert report.finding.startswith("No prevalence hacking")


async def test_a_shift_to_the_majority_that_loses_accuracy_is_not_flagged(evaluator):
    # From "Half" (8 positive predictions) to "Always" (10): toward the majority, but
    # accuracy falls 0.8 -> 0.6, so there is no gain to explain (condition 1).
    report = await shares(evaluator, "Half right.", "Always positive.")
    assert report.shift.diff == pytest.approx(0.2)
    assert report.final.accuracy < report.initial.accuracy
    assert not report.prevalence_hacking


async def test_a_gain_that_also_helps_the_minority_is_not_flagged(evaluator):
    # From "Confused" (all other) to "Right": predictions of positive rise to 60%, but the
    # negatives it gets right rise too (0 -> 4), in proportion: conditions 3 and 4 fail.
    report = await shares(evaluator, "Confused prompt.", "Right always.")
    assert report.shift.diff == pytest.approx(0.6)
    assert report.final.correct_outside("positive") == 4
    assert report.gain_on_majority == pytest.approx(0.6)  # in proportion to the prevalence
    assert not report.prevalence_hacking


async def test_a_prompt_that_tells_every_class_apart_is_not_flagged(evaluator):
    # From "Never" (always the minority class: right on every negative) to "Right": the
    # whole gain is on positives and their share rises, but the final prompt does not favour
    # them: its recall is 1.0 on both classes (condition 4).
    report = await shares(evaluator, "Never positive.", "Right always.")
    assert report.shift.diff == pytest.approx(0.6)
    assert report.gain_on_majority == 1.0
    assert report.final.recall_outside("positive") == report.final.recall["positive"] == 1.0
    assert not report.prevalence_hacking


async def test_failed_calls_and_unreadable_answers_count_as_other(evaluator):
    report = await shares(evaluator, "Failing prompt.", "Confused prompt.")
    assert report.initial.shares[OTHER] == 1.0
    assert report.final.shares[OTHER] == 1.0
    assert not report.prevalence_hacking


async def test_a_balanced_split_has_no_majority_class(evaluator):
    balanced = EXAMPLES[2:]  # 4 positive, 4 negative
    report = await shares(evaluator, "Confused prompt.", "Always positive.", balanced)
    assert report.majority_class is None
    assert report.shift is None
    assert not report.prevalence_hacking  # no prevalence to exploit
    assert "answers 'positive' on 100% of the examples" in report.finding


async def test_too_many_classes_is_a_clear_error(evaluator):
    many = tuple(Example(id=str(i), input=f"item {i}", targets=(f"word{i}",)) for i in range(5))
    first = await evaluator.evaluate("Always.", many, split="dev")
    with pytest.raises(ValueError, match="at most 3 classes; the dev split has 5 distinct"):
        class_shares(first, first, max_classes=3)


async def test_different_examples_are_refused(evaluator):
    first = await evaluator.evaluate("Always.", EXAMPLES[:5], split="test")
    second = await evaluator.evaluate("Always.", EXAMPLES[5:], split="test")
    with pytest.raises(ValueError, match="same examples"):
        class_shares(first, second)
