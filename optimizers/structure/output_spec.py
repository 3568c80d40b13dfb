"""Output specifications read from the train targets: tell the model the shape of an answer.

A 135M model asked "Answer the question." about a review writes a sentence; told
"Answer with exactly one of: positive, negative." it answers in a word the metric
accepts. The clauses come from the data alone (train targets, never dev or test):
the label set when targets take few distinct values, else the targets' shape.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from optimizers.tasks.example import Example

MAX_LABELS = 10
ONLY_ANSWER = "Output only the answer, nothing else."
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def labels(train: Sequence[Example], max_labels: int = MAX_LABELS) -> list[str]:
    """The distinct train targets, most frequent first, when they look like a label set.

    A label set has at most ``max_labels`` values and every value repeats on
    average (fewer distinct values than half the examples); otherwise ``[]``.
    """
    counts = Counter(example.target.strip() for example in train if example.target.strip())
    if not counts or len(counts) > max_labels or len(counts) * 2 > len(train):
        return []
    return [label for label, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _overlap(example: Example) -> float:
    source = set(example.input.lower().split())
    target = example.target.lower().split()
    return sum(word in source for word in target) / max(1, len(target))


def shape_clauses(train: Sequence[Example]) -> list[str]:
    """Clauses describing the targets' shape (one word, a number, a letter, a rewrite…)."""
    targets = [example.target.strip() for example in train if example.target.strip()]
    if not targets:
        return []
    words = [len(target.split()) for target in targets]
    clauses: list[str] = []
    if all(_NUMBER.match(target) for target in targets):
        clauses.append("Answer with the number only.")
    elif all(len(target) == 1 for target in targets):
        case = "lowercase " if all(t.islower() for t in targets) else ""
        clauses.append(f"Answer with a single {case}letter.")
    elif all(count == 1 for count in words):
        clauses.append("Answer with one word only.")
    elif sum(_overlap(example) for example in train) / len(train) > 0.6:
        clauses.append("Output the input sentence with the change made, and nothing else.")
    elif sum(words) / len(words) <= 4:
        clauses.append("Answer with a few words only.")
    else:
        clauses.append("Answer with one short sentence.")
    return clauses


def spec_clauses(train: Sequence[Example]) -> list[str]:
    """Candidate output specifications, most specific first, de-duplicated."""
    found = labels(train)
    clauses: list[str] = []
    if found:
        clauses.append(f"Answer with exactly one of: {', '.join(found)}.")
        if len(found) == 2:
            clauses.append(f"Reply with only the word {found[0]} or {found[1]}.")
    clauses += shape_clauses(train)
    clauses.append(ONLY_ANSWER)
    return list(dict.fromkeys(clauses))
