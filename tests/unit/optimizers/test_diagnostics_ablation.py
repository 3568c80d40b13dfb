"""Sentence ablation on a fake model that is right only when one sentence is in the prompt."""

from __future__ import annotations

import pytest

from optimizers.diagnostics.sentence_ablation import (
    sentence_ablation,
    split_sentences,
    without,
)
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.tasks.example import Example
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import prompt_of

EXAMPLES = tuple(
    Example(id=str(i), input=f"item {i} {label}", targets=(label,))
    for i, label in enumerate(["positive", "negative"] * 10)
)
KEY = "Answer with the sentiment."
PROMPT = f"Be kind. {KEY} Thank you!"


def model(message: str) -> str:
    """Right on every item when the key sentence is in the prompt, else always 'positive'.

    "Shout." in the prompt spoils every answer.
    """
    if "Shout." in prompt_of(message):
        return "LOUD NOISES"
    if KEY in prompt_of(message):
        return message.rsplit(" ", 1)[1].split("\n")[0]
    return "positive"


@pytest.fixture
def evaluator():
    return Evaluator(ChatCaller(fake_backend(model)), metric=get_metric("exact"))


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One sentence", ["One sentence"]),
        ("First. Second! Third?", ["First. ", "Second! ", "Third?"]),
        ("Lines\nwithout stops\n\nand more.", ["Lines\n", "without stops\n\n", "and more."]),
        ('Say "yes." Then stop.', ['Say "yes." ', "Then stop."]),
        ("  Lead. Tail.  ", ["  Lead. ", "Tail.  "]),
        ("3.5 points. Next.", ["3.5 points. ", "Next."]),
        ("", []),
    ],
)
def test_sentences_split_and_join_back(text, sentences):
    assert split_sentences(text) == sentences
    assert "".join(sentences) == text


def test_dropping_a_sentence_keeps_the_others_layout():
    pieces = split_sentences("Read it.\nAnswer in one word. Be brief.")
    assert without(pieces, 1) == "Read it.\nBe brief."
    assert without(pieces, 0) == "Answer in one word. Be brief."


async def test_the_ablation_singles_out_the_sentence_that_carries_the_score(evaluator):
    baseline = await evaluator.evaluate("Be kind.", EXAMPLES, split="test")
    report = await sentence_ablation(evaluator, PROMPT, EXAMPLES, split="test", baseline=baseline)
    assert report.full.mean == 1.0
    assert [e.sentence for e in report.effects] == ["Be kind.", KEY, "Thank you!"]
    key, others = report.effects[1], [report.effects[0], report.effects[2]]
    assert key.ablated.prompt == "Be kind. Thank you!"
    assert key.ablated.mean == 0.5
    assert key.contribution.diff == 0.5
    assert key.contribution.interval.low > 0
    assert all(e.contribution.diff == 0 for e in others)
    assert all(e.contribution.interval.low == e.contribution.interval.high == 0 for e in others)
    assert report.carrying == [key]
    assert report.hurting == []
    assert report.gain.diff == 0.5
    payload = report.to_dict()
    assert [s["share_of_gain"] for s in payload["sentences"]] == [0.0, 1.0, 0.0]
    assert "#2 +0.500" in report.finding


async def test_a_sentence_the_prompt_is_better_without_is_named(evaluator):
    report = await sentence_ablation(evaluator, f"{KEY} Shout.", EXAMPLES, split="dev")
    key, shout = report.effects
    assert report.full.mean == 0.0
    assert key.contribution.diff == 0.0  # without the key sentence: "Shout." alone, still 0
    assert shout.contribution.diff == -1.0  # without "Shout.": the key alone, 1.0
    assert report.hurting == [shout]
    assert report.carrying == []
    assert "Better without: #2 -1.000" in report.finding


async def test_a_one_sentence_prompt_is_compared_with_the_empty_prompt(evaluator):
    report = await sentence_ablation(evaluator, KEY, EXAMPLES, split="dev")
    (only,) = report.effects
    assert only.ablated.prompt == ""
    assert only.contribution.diff == 0.5
    assert report.gain is None
    assert report.to_dict()["sentences"][0]["share_of_gain"] is None


async def test_a_long_prompt_is_refused_before_any_call(evaluator):
    long = " ".join(f"Sentence {i}." for i in range(5))
    with pytest.raises(ValueError, match="at most 3; the prompt has 5 sentences"):
        await sentence_ablation(evaluator, long, EXAMPLES, split="test", max_sentences=3)
    assert evaluator.caller.usage.calls == 0
