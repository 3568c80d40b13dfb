"""The overfitting guard: dev-test gaps with intervals, and train examples copied verbatim."""

from __future__ import annotations

import pytest

from optimizers.diagnostics.overfitting import overfit_guard, unpaired_difference
from optimizers.diagnostics.verbatim import verbatim_copies
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.tasks.example import Example
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import prompt_of

TRAIN = (
    Example(id="t1", input="The soup was cold and the waiter rude.", targets=("negative",)),
    Example(id="t2", input="Great!", targets=("positive",)),
    Example(
        id="t3",
        input="I waited an hour for a table and then they lost my order twice in a row.",
        targets=("negative",),
    ),
    Example(id="t4", input="Fine food", targets=("the food was fine overall today",)),
)
SEED = "Classify the review."


def test_a_whole_train_input_in_the_prompt_is_a_copy():
    prompt = "Classify the review. For example, the soup was cold and the waiter rude: negative."
    (copy,) = verbatim_copies(prompt, TRAIN, seed_prompt=SEED)
    assert (copy.example_id, copy.field, copy.whole) == ("t1", "input", True)
    assert copy.words == "the soup was cold and the waiter rude"
    assert copy.length == 8
    assert not copy.in_seed
    assert 'the whole input of train example t1 ("the soup was cold' in copy.describe()


def test_labels_and_short_inputs_are_not_copies():
    prompt = "Answer positive or negative. Great!"
    assert verbatim_copies(prompt, TRAIN) == []


def test_a_long_partial_overlap_is_a_copy_and_a_short_one_is_not():
    partial = "If they lost my order twice in a row say negative."
    (copy,) = verbatim_copies(partial, TRAIN)
    assert (copy.example_id, copy.whole, copy.length) == ("t3", False, 8)
    assert copy.words == "they lost my order twice in a row"
    assert verbatim_copies("They lost my order: negative.", TRAIN) == []  # 4 words, partial


def test_a_copied_target_is_found_too():
    (copy,) = verbatim_copies("Say: The food was fine overall today.", TRAIN)
    assert (copy.example_id, copy.field, copy.whole) == ("t4", "target", True)


def test_a_copy_already_in_the_seed_is_marked():
    seed = "The soup was cold and the waiter rude means negative."
    (copy,) = verbatim_copies(seed + " Be brief.", TRAIN, seed_prompt=seed)
    assert copy.in_seed


def test_unpaired_difference_is_exact_for_constants_and_covers_the_mean():
    constant = unpaired_difference([1.0] * 10, [0.0] * 12)
    assert constant.diff == 1.0
    assert constant.interval.low == constant.interval.high == 1.0
    noisy = unpaired_difference([1, 0, 1, 1, 0, 1], [0, 0, 1, 0], seed=3)
    assert noisy.diff == pytest.approx(4 / 6 - 1 / 4)
    assert noisy.interval.low < noisy.diff < noisy.interval.high
    assert unpaired_difference([1, 0, 1, 1, 0, 1], [0, 0, 1, 0], seed=3) == noisy
    with pytest.raises(ValueError, match="scores on both sides"):
        unpaired_difference([], [1.0])


# Dev items are "dev N", test items "test N". "Lucky." is right on every dev item but only
# on even test items: a prompt that looks perfect on dev and is half right on test.
DEV = tuple(Example(id=f"d{i}", input=f"dev {i}", targets=("yes",)) for i in range(12))
TEST = tuple(Example(id=f"x{i}", input=f"test {i}", targets=("yes",)) for i in range(12))


def model(message: str) -> str:
    prompt, number = prompt_of(message), int(message.split("Input: ")[1].split()[1])
    if prompt.startswith("Lucky."):
        return "yes" if "dev" in message or number % 2 == 0 else "no"
    return "no"


@pytest.fixture
def evaluator():
    return Evaluator(ChatCaller(fake_backend(model)), metric=get_metric("exact"))


async def scores(evaluator, prompt):
    dev = await evaluator.evaluate(prompt, DEV, split="dev")
    test = await evaluator.evaluate(prompt, TEST, split="test")
    return dev, test


async def test_a_dev_gain_that_halves_on_test_warns(evaluator):
    seed_dev, seed_test = await scores(evaluator, SEED)
    best_dev, best_test = await scores(evaluator, "Lucky.")
    report = overfit_guard(
        seed_dev=seed_dev, seed_test=seed_test, best_dev=best_dev, best_test=best_test,
        train=TRAIN,
    )  # fmt: skip
    assert report.gap.diff == 0.5  # 1.0 on dev, 0.5 on test
    assert report.gap.interval.low > 0
    assert report.seed_gap.diff == 0.0
    assert report.excess_gap.diff == 0.5  # dev gain 1.0, test gain 0.5
    (warning,) = report.warnings
    assert warning.startswith("the dev gain overstates the test gain by +0.500")
    assert report.copies == ()
    payload = report.to_dict()
    assert payload["best"]["dev"]["mean"] == 1.0
    assert payload["best"]["test"]["mean"] == 0.5
    assert payload["warnings"] == [warning]


async def test_a_prompt_that_copies_a_train_input_warns(evaluator):
    copying = "Lucky. The soup was cold and the waiter rude."
    seed_dev, seed_test = await scores(evaluator, SEED)
    best_dev, best_test = await scores(evaluator, copying)
    report = overfit_guard(
        seed_dev=seed_dev, seed_test=seed_test, best_dev=best_dev, best_test=best_test,
        train=TRAIN,
    )  # fmt: skip
    assert [c.example_id for c in report.copies] == ["t1"]
    assert any("copies the whole input of train example t1" in w for w in report.warnings)
    assert "Warning:" in report.finding


async def test_a_prompt_that_carries_over_gets_no_warning(evaluator):
    seed_dev, seed_test = await scores(evaluator, SEED)
    report = overfit_guard(
        seed_dev=seed_dev, seed_test=seed_test, best_dev=seed_dev, best_test=seed_test,
        train=TRAIN,
    )  # fmt: skip
    assert report.excess_gap.diff == 0.0
    assert report.warnings == []
    assert report.finding.endswith("No warning.")


async def test_the_seed_and_the_best_must_share_examples(evaluator):
    seed_dev, seed_test = await scores(evaluator, SEED)
    shorter = await evaluator.evaluate("Lucky.", DEV[:6], split="dev")
    with pytest.raises(ValueError, match="same dev examples"):
        overfit_guard(
            seed_dev=seed_dev, seed_test=seed_test, best_dev=shorter, best_test=seed_test,
            train=TRAIN,
        )  # fmt: skip
