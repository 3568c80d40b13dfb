"""Naming candidates: numbers, "#n", "candidate n" and exact texts resolve to one number."""

from __future__ import annotations

import pytest

from agent.graph.candidates import CandidateNotFound, describe_candidate, resolve_candidate
from optimizers.base import Candidate, Scored
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult
from optimizers.evaluation.stats import Interval
from optimizers.outcome import RunOutcome


def scored(text: str, mean: float) -> Scored:
    result = EvalResult(
        prompt=text, split="dev", template="inline", metric="exact", examples=(), mean=mean,
        interval=Interval(mean, mean, 0.95), usage=Usage(), wall_time_s=0.0,
    )  # fmt: skip
    return Scored(Candidate(text=text, source="test", step=0), result)


@pytest.fixture
def outcome():
    history = [scored("Answer.", 0.5), scored("Say 7.", 0.25), scored("7", 0.75)]
    return RunOutcome(seed=history[0], history=history)


@pytest.mark.parametrize(
    ("reference", "number"),
    [
        ("2", 2),
        ("#1", 1),
        ("candidate 2", 2),
        ("Number 1.", 1),
        ('"Say 7."', 1),
        ("say 7.", None),  # texts match exactly (up to whitespace)
        ("  Say   7. ", 1),
        ("“Answer.”", 0),
        ("Answer", None),
        ("7", None),  # a number is a number, even when a prompt reads "7"
        ('"7"', 2),  # quoted, it is a text
    ],
)
def test_resolve_candidate(outcome, reference, number):
    if number is None:
        with pytest.raises(CandidateNotFound):
            resolve_candidate(outcome, reference)
    else:
        assert resolve_candidate(outcome, reference) == number


def test_errors_say_what_exists(outcome):
    with pytest.raises(CandidateNotFound, match=r"no candidate #7: numbers go from #0 .* to #2"):
        resolve_candidate(outcome, "7")
    with pytest.raises(CandidateNotFound, match=r"no scored prompt has the text 'Answer'; name"):
        resolve_candidate(outcome, "Answer")
    with pytest.raises(CandidateNotFound, match="no candidate is scored yet"):
        resolve_candidate(None, "0")
    assert describe_candidate(outcome, 1) == "#1 (dev 0.250): 'Say 7.'"
