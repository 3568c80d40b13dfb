"""Sentence ablation: which sentences of the final prompt carry its score.

Each sentence is dropped in turn and the rest re-scored on the same examples.
The *contribution* of a sentence is the full prompt's score minus the score
without it, paired by example, with a bootstrap interval: a clearly positive
contribution means that sentence carries part of the gain; a negative one,
that the prompt does better without it.

Sentences end at ``.``, ``!`` or ``?`` (optionally followed by a closing quote
or bracket) before whitespace, and at line breaks; "e.g. this" therefore
splits after "e.g.". The whitespace between sentences stays with the sentence
before it, so dropping one keeps the layout of the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optimizers.diagnostics.rerun import comparison_dict, describe_difference, score_dict
from optimizers.evaluation.evaluator import EvalResult, Evaluator, compare
from optimizers.evaluation.stats import PairedComparison
from optimizers.tasks.example import Example

MAX_SENTENCES = 12
"""Each sentence costs one evaluation of the split; longer prompts are refused."""

_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))[ \t]+|[ \t]*\n\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` with the whitespace after each; ``"".join`` gives ``text`` back.

    Leading whitespace of ``text`` stays with the first sentence.
    """
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        piece = text[start : match.end()]
        if piece.strip():
            pieces.append(piece)
        elif pieces:
            pieces[-1] += piece
        else:  # whitespace before the first sentence
            continue
        start = match.end()
    tail = text[start:]
    if tail.strip():
        pieces.append(tail)
    elif pieces:
        pieces[-1] += tail
    return pieces


def without(pieces: Sequence[str], index: int) -> str:
    """The prompt with sentence ``index`` removed (outer whitespace stripped)."""
    return "".join(piece for i, piece in enumerate(pieces) if i != index).strip()


@dataclass(frozen=True)
class SentenceEffect:
    """One sentence: the prompt without it, and what dropping it cost."""

    index: int
    sentence: str
    ablated: EvalResult
    contribution: PairedComparison  # full − without this sentence, paired

    def to_dict(self, gain: float | None) -> dict[str, Any]:
        """JSON-ready, with the share of the prompt's gain over the baseline when known."""
        share = None if gain is None or gain <= 0 else self.contribution.diff / gain
        return {
            "index": self.index,
            "sentence": self.sentence,
            "prompt_without": self.ablated.prompt,
            "score_without": score_dict(self.ablated),
            "contribution": comparison_dict(self.contribution),
            "share_of_gain": share,
        }


@dataclass(frozen=True)
class SentenceAblationReport:
    """Every sentence's contribution to the prompt's score on one split."""

    prompt: str
    full: EvalResult
    effects: tuple[SentenceEffect, ...]
    baseline: EvalResult | None = None  # e.g. the initial prompt: what "the gain" is over

    @property
    def gain(self) -> PairedComparison | None:
        """Full prompt minus baseline on the same examples, when a baseline was given."""
        return None if self.baseline is None else compare(self.baseline, self.full)

    @property
    def carrying(self) -> list[SentenceEffect]:
        """Sentences whose removal clearly lowers the score (interval above 0)."""
        return [e for e in self.effects if e.contribution.interval.low > 0]

    @property
    def hurting(self) -> list[SentenceEffect]:
        """Sentences whose removal clearly raises the score (interval below 0)."""
        return [e for e in self.effects if e.contribution.interval.high < 0]

    @property
    def finding(self) -> str:
        """Which sentences matter."""
        parts = []
        if (gain := self.gain) is not None:
            parts.append(f"full prompt − baseline: {describe_difference(gain)}.")
        if not self.effects:
            return " ".join([*parts, "The prompt has no sentence to drop."])
        if self.carrying:
            listed = "; ".join(f"#{e.index + 1} {e.contribution.diff:+.3f}" for e in self.carrying)
            parts.append(f"Carrying the score (dropping it costs, 95% CI above 0): {listed}.")
        else:
            parts.append("No single sentence carries the score (every interval includes 0).")
        if self.hurting:
            listed = "; ".join(f"#{e.index + 1} {e.contribution.diff:+.3f}" for e in self.hurting)
            parts.append(f"Better without: {listed}.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` payload."""
        gain = self.gain
        return {
            "diagnostic": "ablation",
            "prompt": self.prompt,
            "split": self.full.split,
            "full": score_dict(self.full),
            "baseline": None if self.baseline is None else score_dict(self.baseline),
            "gain": None if gain is None else comparison_dict(gain),
            "sentences": [e.to_dict(None if gain is None else gain.diff) for e in self.effects],
            "finding": self.finding,
        }


async def sentence_ablation(
    evaluator: Evaluator,
    prompt: str,
    examples: Sequence[Example],
    *,
    split: str,
    full: EvalResult | None = None,
    baseline: EvalResult | None = None,
    max_sentences: int = MAX_SENTENCES,
) -> SentenceAblationReport:
    """Drop each sentence of ``prompt`` in turn and re-score on ``examples``.

    ``full`` (the prompt's own evaluation on these examples) and ``baseline``
    (e.g. the initial prompt's) are reused when given. A one-sentence prompt is
    compared with the empty prompt. Raises ``ValueError`` for more than
    ``max_sentences`` sentences.
    """
    pieces = split_sentences(prompt)
    if len(pieces) > max_sentences:
        raise ValueError(
            f"sentence ablation scores one variant per sentence, at most {max_sentences}; "
            f"the prompt has {len(pieces)} sentences"
        )
    if full is None:
        full = await evaluator.evaluate(prompt, examples, split=split)
    effects = []
    for index, piece in enumerate(pieces):
        ablated = await evaluator.evaluate(without(pieces, index), examples, split=split)
        effects.append(SentenceEffect(index, piece.strip(), ablated, compare(ablated, full)))
    return SentenceAblationReport(prompt, full, tuple(effects), baseline)
