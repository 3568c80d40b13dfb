"""Why a seed scores zero: each cause is recognised from the failures, with its fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimizers.diagnostics.low_score import explain_low_score
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.tasks.example import Example
from tests.fakes import fake_backend

LABELS = ["positive", "negative"] * 5
EXAMPLES = tuple(
    Example(id=f"e{i}", input=f"item {i} is {label}", targets=(label,))
    for i, label in enumerate(LABELS)
)
TRAIN = tuple(
    Example(id=f"t{i}", input=f"train {i} is {label}", targets=(label,))
    for i, label in enumerate(LABELS * 2)
)


def model(message: str) -> str:
    truth = "positive" if "is positive" in message else "negative"
    if message.startswith("Chatty"):
        return f"This review is {truth}. The user seems to have an opinion about it."
    if message.startswith("Positive"):
        return "positive"
    if message.startswith("Failing"):
        raise RuntimeError("HTTP 400: rejected")
    if message.startswith("Rambling"):
        return "Well, let me think about this step by step, there are many"
    if message.startswith("Right"):
        return truth
    return "banana"


async def scored(prompt: str, metric: str = "exact"):
    evaluator = Evaluator(ChatCaller(fake_backend(model)), metric=get_metric(metric))
    return await evaluator.evaluate(prompt, EXAMPLES, split="dev")


async def test_sentence_answers_get_the_label_clause_and_the_contains_metric():
    diagnosis = explain_low_score(await scored("Chatty prompt."), TRAIN)
    assert diagnosis is not None
    assert diagnosis.cause == "sentences"
    assert "answers in sentences" in diagnosis.sentence
    assert (
        '"This review is positive.' in diagnosis.sentence or "This review is" in diagnosis.sentence
    )
    kinds = [fix.kind for fix in diagnosis.fixes]
    assert kinds == ["output_spec", "metric"]
    assert diagnosis.fixes[0].value == "Answer with exactly one of: negative, positive."
    assert diagnosis.fixes[1].value == "contains"


async def test_a_label_the_model_never_uses_is_named():
    result = await scored("Positive always.")
    assert result.mean == pytest.approx(0.5)
    assert explain_low_score(result, TRAIN) is None  # 0.5 is not near zero
    diagnosis = explain_low_score(result, TRAIN, threshold=0.6)
    assert diagnosis is not None
    assert diagnosis.cause == "missing_label"
    assert '"negative"' in diagnosis.sentence
    assert "5 of 10" in diagnosis.sentence


async def test_every_request_failing_points_at_the_endpoint_and_offers_no_prompt_fix():
    diagnosis = explain_low_score(await scored("Failing prompt."), TRAIN)
    assert diagnosis is not None
    assert diagnosis.cause == "endpoint"
    assert "HTTP 400" in diagnosis.sentence
    assert diagnosis.fixes == ()


async def test_answers_cut_at_the_token_cap_get_more_tokens_first():
    result = await scored("Rambling prompt.")
    capped = replace(
        result, examples=tuple(replace(e, completion_tokens=16) for e in result.examples)
    )
    diagnosis = explain_low_score(capped, TRAIN, max_tokens=16)
    assert diagnosis is not None
    assert diagnosis.cause == "truncated"
    assert diagnosis.fixes[0].kind == "max_tokens"
    assert diagnosis.fixes[0].value == "32"
    assert diagnosis.fixes[1].kind == "output_spec"
    assert explain_low_score(result, TRAIN, max_tokens=64).cause != "truncated"


async def test_other_wrong_answers_are_quoted_with_the_expected_one():
    diagnosis = explain_low_score(await scored("Odd prompt."), TRAIN)
    assert diagnosis is not None
    assert diagnosis.cause == "other"
    assert '"banana"' in diagnosis.sentence
    assert "expected" in diagnosis.sentence


async def test_a_working_prompt_needs_no_explanation():
    assert explain_low_score(await scored("Right prompt."), TRAIN) is None


async def test_the_fix_comes_from_train_only():
    shapes = tuple(Example(id=f"s{i}", input="x", targets=(str(i),)) for i in range(12))
    diagnosis = explain_low_score(await scored("Chatty prompt."), shapes)
    assert diagnosis is not None
    assert diagnosis.fixes[0].value == "Answer with the number only."  # train's shape, not dev's
