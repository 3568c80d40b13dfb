"""Why a prompt scores (near) zero, in one sentence, and the fixes to offer.

A new user's first run on a small model often scores 0 for a reason the wording of
the instruction does not touch: the answers are sentences while the metric wants a
label, one label never appears, the answers are cut by the token cap, or every
request failed. Reading the failures tells which; each cause comes with fixes a
person can accept in one word (an output specification, another metric, more
tokens). Only train targets inform a fix: dev answers are read to see what went
wrong, never copied into a prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any, Literal

from optimizers.evaluation.evaluator import EvalResult, ExampleResult
from optimizers.structure.output_spec import labels, spec_clauses
from optimizers.tasks.example import Example

NEAR_ZERO = 0.10
"""A mean score at or below this is explained (a weak seed above it has a wording problem)."""

Cause = Literal["endpoint", "truncated", "sentences", "missing_label", "other"]
FixKind = Literal["output_spec", "metric", "max_tokens"]
_SHOWN = 80  # characters of an answer quoted in the sentence


@dataclass(frozen=True)
class Fix:
    """One change a person can accept: add a clause, score with another metric, allow more tokens.

    ``value`` is the clause to append, the metric's name, or the new token cap.
    """

    kind: FixKind
    label: str
    value: str


@dataclass(frozen=True)
class LowScore:
    """What is wrong with a (near-)zero score, said once, with the fixes that follow."""

    cause: Cause
    sentence: str
    fixes: tuple[Fix, ...]
    mean: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the report's ``diagnosis``)."""
        return {**asdict(self), "fixes": [asdict(fix) for fix in self.fixes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LowScore:
        """Read :meth:`to_dict`'s output back."""
        fixes = tuple(Fix(**fix) for fix in data.get("fixes", ()))
        return cls(data["cause"], data["sentence"], fixes, data["mean"], data["n"])


def explain_low_score(
    result: EvalResult,
    train: Sequence[Example],
    *,
    max_tokens: int | None = None,
    threshold: float = NEAR_ZERO,
) -> LowScore | None:
    """The diagnosis of ``result`` when its mean is at most ``threshold``, else None."""
    if result.n == 0 or result.mean > threshold:
        return None
    examples = result.examples
    failed = [e for e in examples if e.error]
    if len(failed) == len(examples):
        return _found(
            result, "endpoint", "Every request to the model failed "
            f"({_clip(failed[0].error or 'no answer')}), so the prompt was never really scored: "
            "check the model's endpoint in Settings.", (),
        )  # fmt: skip
    answered = [e for e in examples if not e.error]
    spec = _spec_fix(train)
    if max_tokens and _share(answered, lambda e: e.completion_tokens >= max_tokens) >= 0.5:
        more = Fix("max_tokens", f"Allow {2 * max_tokens} tokens per answer", str(2 * max_tokens))
        return _found(
            result, "truncated", f"Most answers are cut off at the {max_tokens}-token cap "
            "before they reach the answer.", (more, *spec),
        )  # fmt: skip
    if _in_sentences(answered):
        example = next((e for e in answered if _contains_target(e)), answered[0])
        sentence = (
            f'The model answers in sentences ("{_clip(example.output)}") while the '
            f'{result.metric} metric wants only the answer ("{example.targets[0]}").'
        )
        contained = _share(answered, _contains_target)
        metric = (
            (Fix("metric", "Score with 'contains' (the answer anywhere in the reply)", "contains"),)
            if contained >= 0.3 and result.metric == "exact"
            else ()
        )
        return _found(result, "sentences", sentence, (*spec, *metric))
    missing = _missing_label(answered, train)
    if missing is not None:
        expected = sum(missing in e.targets for e in answered)
        return _found(
            result, "missing_label", f'The model never answers "{missing}", the expected '
            f"answer in {expected} of {len(answered)} examples.", spec,
        )  # fmt: skip
    worst = answered[0]
    return _found(
        result, "other", f'The answers differ from the expected ones (e.g. "{_clip(worst.output)}"'
        f' where "{worst.targets[0]}" was expected).', spec,
    )  # fmt: skip


def _found(result: EvalResult, cause: Cause, sentence: str, fixes: Sequence[Fix]) -> LowScore:
    return LowScore(cause, sentence, tuple(fixes), result.mean, result.n)


def _spec_fix(train: Sequence[Example]) -> tuple[Fix, ...]:
    """The most specific output specification the train targets support, as a fix."""
    clauses = spec_clauses(train)
    if not clauses:
        return ()
    return (Fix("output_spec", f'Add "{clauses[0]}" to the prompt', clauses[0]),)


def _words(text: str) -> int:
    return len(text.split())


def _in_sentences(answered: Sequence[ExampleResult]) -> bool:
    """Short targets, answers several times longer."""
    if not answered:
        return False
    target_words = median(_words(e.targets[0]) for e in answered)
    output_words = median(_words(e.output) for e in answered)
    return target_words <= 3 and output_words >= max(4, 2 * target_words + 2)


def _mentions(text: str, phrase: str) -> bool:
    """``phrase`` appears in ``text`` as whole words, ignoring case."""
    phrase = phrase.strip().lower()
    return (
        bool(phrase) and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text.lower()) is not None
    )


def _contains_target(result: ExampleResult) -> bool:
    return any(_mentions(result.output, target) for target in result.targets)


def _missing_label(answered: Sequence[ExampleResult], train: Sequence[Example]) -> str | None:
    """A train label expected on some examples that no answer uses, while others are used."""
    outputs = " ".join(e.output.lower() for e in answered)
    found = labels(train)
    used = {
        label for label in found if re.search(rf"(?<!\w){re.escape(label.lower())}(?!\w)", outputs)
    }
    if not used:
        return None  # no label at all: not one missing label but answers of another kind
    return next(
        (
            label
            for label in found
            if label not in used and any(label in e.targets for e in answered)
        ),
        None,
    )


def _share(results: Sequence[ExampleResult], test: Any) -> float:
    return sum(1 for r in results if test(r)) / len(results) if results else 0.0


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
