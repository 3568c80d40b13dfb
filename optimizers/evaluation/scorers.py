"""The built-in metrics' scoring rules: exact, contains, f1, choice, regex, numeric, set.

Each factory takes the metric's options and returns ``score(prediction, targets)``,
scoring against the best-matching target. They never raise on strange model output
(empty, huge, control characters): a malformed answer scores 0. They raise
:class:`~optimizers.evaluation.metric_error.MetricError` only on misconfiguration.
The rules that compare normalised text (exact, contains, f1) are here; those that
read something out of an answer have a module each (:mod:`.choice_scorer`,
:mod:`.regex_scorer`, :mod:`.numeric_scorer`, :mod:`.set_scorer`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from optimizers.evaluation.choice_scorer import make_choice
from optimizers.evaluation.metric_options import scope_option
from optimizers.evaluation.normalize import (
    normalize_answer,
    normalize_text,
    remove_articles,
    tokens,
)
from optimizers.evaluation.numeric_scorer import make_numeric
from optimizers.evaluation.regex_scorer import make_regex
from optimizers.evaluation.set_scorer import make_set


def _answer_normalizer(scope: str) -> Callable[[str], str]:
    return normalize_answer if scope == "answer" else normalize_text


def _make_exact(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    normalize = _answer_normalizer(scope_option("exact", options))

    def exact(prediction: str, targets: Sequence[str]) -> float:
        predicted = normalize(prediction)
        return float(any(predicted == normalize(target) for target in targets))

    return exact


def _make_contains(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    def contains(prediction: str, targets: Sequence[str]) -> float:
        padded = f" {normalize_text(prediction)} "
        for target in targets:
            wanted = normalize_text(target)
            if (wanted and f" {wanted} " in padded) or (not wanted and padded == "  "):
                return 1.0
        return 0.0

    return contains


def _f1(predicted: list[str], gold: list[str]) -> float:
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _make_f1(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    normalize = _answer_normalizer(scope_option("f1", options))

    def f1(prediction: str, targets: Sequence[str]) -> float:
        predicted = tokens(remove_articles(normalize(prediction)))
        return max(
            (_f1(predicted, tokens(remove_articles(normalize(target)))) for target in targets),
            default=0.0,
        )

    return f1


# --- registry -----------------------------------------------------------------------

BUILTIN_METRICS: dict[str, str] = {
    "exact": "normalised exact match of the answer line (label, case, punctuation ignored)",
    "contains": "the normalised target appears in the output as whole words",
    "f1": "token-level F1 (SQuAD style) between the answer line and the target",
    "choice": "multiple choice: the option letter the output commits to equals the target's",
    "regex": "each target is a regular expression searched in the output (flags=i: any case)",
    "numeric": "the last number in the output equals the target within tol (default 1e-6)",
    "set": "comma/semicolon/'and'/line-separated items equal the target's as a set",
}

_FACTORIES: dict[str, Callable[[Mapping[str, str]], Callable[[str, Sequence[str]], float]]] = {
    "exact": _make_exact,
    "contains": _make_contains,
    "f1": _make_f1,
    "choice": make_choice,
    "regex": make_regex,
    "numeric": make_numeric,
    "set": make_set,
}

_OPTIONS: dict[str, frozenset[str]] = {
    "exact": frozenset({"scope"}),
    "contains": frozenset(),
    "f1": frozenset({"scope"}),
    "choice": frozenset({"letters"}),
    "regex": frozenset({"flags", "timeout"}),
    "numeric": frozenset({"tol", "rel_tol"}),
    "set": frozenset(),
}
