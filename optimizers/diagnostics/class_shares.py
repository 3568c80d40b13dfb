"""Per-class prediction shares and confusion matrices of the initial vs the final prompt.

A prompt can "gain" on a classification task without discriminating better,
by answering one class more often: on a split where that class is common the
accuracy rises while the other classes lose ("prevalence hacking", docs
ALGORITHMS.md). This diagnostic reads the two prompts' evaluations on the same
examples and counts, for each true class, what each prompt predicted.

A prediction's class is its answer normalised as the ``exact`` metric does
(:func:`~optimizers.evaluation.normalize.normalize_answer`: first answer line,
labels, case and punctuation dropped) matched against the normalised labels;
anything else (no answer, a failed call, a sentence) is counted in the column
:data:`OTHER`. The true class is an example's canonical target.

**Prevalence-hacking rule.** Let M be the majority class: the most frequent
true class of the split (if two tie for it there is no prevalence to exploit
and nothing is flagged). The final prompt is flagged when all four hold:

1. its class accuracy (correct predictions / n) is higher than the initial's;
2. the share of its predictions that are M rises by at least ``min_shift``
   (default 0.10);
3. the gain is skewed toward M: of the extra correct answers, the share on
   examples of M is larger than M's share of the examples (an improvement blind
   to the classes would gain in proportion);
4. it favours M: its recall on the other examples (pooled) is lower than its
   recall on M.

Then the gain was bought mostly by answering M more often, not by telling the
classes apart better. Not flagged: a prompt that fixes an over-predicted
minority class (predictions move *away* from M), one that improves every class
in proportion (3), and one that recognises every class equally well after an
initial prompt that answered only a minority class (4). Run it on dev too: that
is the split the prompt was selected on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from optimizers.diagnostics.rerun import comparison_dict, describe_difference
from optimizers.evaluation.evaluator import EvalResult, compare
from optimizers.evaluation.normalize import normalize_answer
from optimizers.evaluation.stats import PairedComparison, paired_comparison

OTHER = "(other)"
"""The predicted-class column for outputs that are none of the labels."""

MAX_CLASSES = 20
"""More distinct targets than this is not a classification task."""


@dataclass(frozen=True)
class ClassCounts:
    """What one prompt predicted, per true class."""

    prompt: str
    n: int
    labels: tuple[str, ...]  # true classes, most frequent first; columns add OTHER
    confusion: dict[str, dict[str, int]]  # true class -> predicted class -> count
    predicted: tuple[str, ...]  # the predicted class of each example, in example order
    truth: tuple[str, ...]

    @property
    def shares(self) -> dict[str, float]:
        """Share of the predictions that went to each class (and to OTHER)."""
        counts = Counter(self.predicted)
        return {label: counts[label] / self.n for label in (*self.labels, OTHER)}

    @property
    def recall(self) -> dict[str, float]:
        """Per true class: the share of its examples predicted as that class."""
        return {
            label: self.confusion[label][label] / max(1, sum(self.confusion[label].values()))
            for label in self.labels
        }

    @property
    def correct(self) -> int:
        """Examples whose predicted class is the true class."""
        return sum(self.confusion[label][label] for label in self.labels)

    @property
    def accuracy(self) -> float:
        """Correct predictions (predicted class = true class) over all examples."""
        return self.correct / self.n

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the true classes: blind to how common each class is."""
        return sum(self.recall.values()) / len(self.labels)

    def correct_outside(self, label: str) -> int:
        """Correct predictions on examples whose true class is not ``label``."""
        return sum(self.confusion[other][other] for other in self.labels if other != label)

    def recall_outside(self, label: str) -> float:
        """Pooled recall on the examples whose true class is not ``label`` (0 if none)."""
        count = sum(sum(self.confusion[other].values()) for other in self.labels if other != label)
        return self.correct_outside(label) / count if count else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Shares, recall, accuracies and the confusion matrix."""
        return {
            "prompt": self.prompt,
            "n": self.n,
            "shares": self.shares,
            "recall": self.recall,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "confusion": self.confusion,
        }


@dataclass(frozen=True)
class ClassSharesReport:
    """The initial and final prompt's class counts, and the prevalence-hacking verdict."""

    split: str
    labels: tuple[str, ...]
    true_shares: dict[str, float]
    initial: ClassCounts
    final: ClassCounts
    metric_difference: PairedComparison  # final − initial with the evaluation's metric
    majority_class: str | None  # M; None when two classes tie for most frequent
    shift: PairedComparison | None  # change of the share of predictions that are M, paired
    min_shift: float

    @property
    def gain_on_majority(self) -> float | None:
        """Share of the extra correct answers that are on majority-class examples."""
        m, gained = self.majority_class, self.final.correct - self.initial.correct
        if m is None or gained <= 0:
            return None
        return (self.final.confusion[m][m] - self.initial.confusion[m][m]) / gained

    @property
    def prevalence_hacking(self) -> bool:
        """The rule of the module docstring."""
        m, share = self.majority_class, self.gain_on_majority
        if m is None or self.shift is None or share is None:  # no majority, or no gain (1)
            return False
        final = self.final
        return (
            self.shift.diff >= self.min_shift
            and share > self.true_shares[m]
            and final.recall_outside(m) < final.recall[m]
        )

    @property
    def finding(self) -> str:
        """What the counts say."""
        m, initial, final = self.majority_class, self.initial, self.final
        accuracy = (
            f"class accuracy {initial.accuracy:.3f} → {final.accuracy:.3f}, balanced accuracy "
            f"{initial.balanced_accuracy:.3f} → {final.balanced_accuracy:.3f}"
        )
        top, top_share = max(final.shares.items(), key=lambda kv: kv[1])
        one_class = (
            f" The final prompt answers {top!r} on {top_share:.0%} of the examples."
            if top_share >= 0.9
            else ""
        )
        if m is None or self.shift is None:
            return (
                f"No majority class (the classes tie), so no prevalence to exploit; "
                f"{accuracy}.{one_class}"
            )
        detail = (
            f"predictions of the majority class {m!r} ({self.true_shares[m]:.0%} of the "
            f"examples) went from {initial.shares[m]:.0%} to {final.shares[m]:.0%} "
            f"({describe_difference(self.shift)}); right on {initial.correct_outside(m)} → "
            f"{final.correct_outside(m)} examples of the other classes (final recall there "
            f"{final.recall_outside(m):.2f}, on {m!r} {final.recall[m]:.2f}); {accuracy}"
        )
        if (on_majority := self.gain_on_majority) is not None:
            detail += f"; {on_majority:.0%} of the extra correct answers are on {m!r} examples"
        if self.prevalence_hacking:
            return f"Prevalence hacking: the gain is skewed toward {m!r}; {detail}.{one_class}"
        return f"No prevalence hacking by the rule: {detail}.{one_class}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` payload."""
        return {
            "diagnostic": "classes",
            "split": self.split,
            "labels": [*self.labels, OTHER],
            "true_shares": self.true_shares,
            "majority_class": self.majority_class,
            "initial": self.initial.to_dict(),
            "final": self.final.to_dict(),
            "metric_difference": comparison_dict(self.metric_difference),
            "majority_shift": None if self.shift is None else comparison_dict(self.shift),
            "gain_on_majority": self.gain_on_majority,
            "min_shift": self.min_shift,
            "prevalence_hacking": self.prevalence_hacking,
            "finding": self.finding,
        }


def _class_labels(result: EvalResult, max_classes: int) -> tuple[dict[str, str], list[str]]:
    """Normalised key -> label (most frequent first), and each example's true label."""
    display: dict[str, str] = {}
    truth = []
    for example in result.examples:
        key = normalize_answer(example.targets[0])
        display.setdefault(key, example.targets[0])
        truth.append(display[key])
    if len(display) > max_classes:
        raise ValueError(
            f"class shares need a classification task with at most {max_classes} classes; "
            f"the {result.split} split has {len(display)} distinct targets"
        )
    counts = Counter(truth)
    order = sorted(display.items(), key=lambda kv: (-counts[kv[1]], kv[1]))
    return dict(order), truth


def count_classes(result: EvalResult, labels: dict[str, str], truth: list[str]) -> ClassCounts:
    """Sort one prompt's outputs into classes (see the module docstring)."""
    names = tuple(labels.values())
    confusion = {label: dict.fromkeys((*names, OTHER), 0) for label in names}
    predicted = []
    for example, true in zip(result.examples, truth, strict=True):
        guess = labels.get(normalize_answer(example.output), OTHER) if example.output else OTHER
        confusion[true][guess] += 1
        predicted.append(guess)
    return ClassCounts(result.prompt, result.n, names, confusion, tuple(predicted), tuple(truth))


def class_shares(
    initial: EvalResult,
    final: EvalResult,
    *,
    min_shift: float = 0.10,
    max_classes: int = MAX_CLASSES,
    seed: int = 0,
) -> ClassSharesReport:
    """Compare what ``initial`` and ``final`` predicted on the same examples.

    Raises ``ValueError`` when the evaluations are not on the same examples, or
    the split has more than ``max_classes`` distinct targets.
    """
    metric_difference = compare(initial, final, seed=seed)  # checks the examples match
    labels, truth = _class_labels(initial, max_classes)
    before = count_classes(initial, labels, truth)
    after = count_classes(final, labels, truth)
    names = before.labels
    counts = Counter(truth)
    ranked = counts.most_common()
    unique = len(ranked) == 1 or ranked[0][1] > ranked[1][1]
    majority = ranked[0][0] if unique else None

    def indicator(counts: ClassCounts) -> list[float]:
        return [float(p == majority) for p in counts.predicted]

    shift = (
        None
        if majority is None
        else paired_comparison(indicator(before), indicator(after), seed=seed)
    )
    return ClassSharesReport(
        split=initial.split,
        labels=names,
        true_shares={label: counts[label] / len(truth) for label in names},
        initial=before,
        final=after,
        metric_difference=metric_difference,
        majority_class=majority,
        shift=shift,
        min_shift=min_shift,
    )
