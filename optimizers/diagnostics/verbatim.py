"""Train examples copied verbatim into a prompt: a sign of fitting train, not the task.

Optimizers see train examples (APE demos, GPO exemplars, textual-gradient
errors) and a model rewriting a prompt sometimes pastes one in. A prompt that
quotes its train data can score well on examples like them and carries text
that means nothing for new inputs.

**Rule.** Prompt and example texts are compared as normalised words
(:func:`~optimizers.evaluation.normalize.normalize_text`: case, punctuation and
spacing ignored). A train input or target is *copied* when either

1. all of it, at least ``min_words`` words long (default 4), appears in the
   prompt as a contiguous run of words; or
2. it shares a contiguous run of at least ``ngram`` words (default 8) with the
   prompt (a long partial copy).

Short targets such as a class label ("positive") never count: naming the
labels is what a good instruction does. A copy whose words already appear in
the seed prompt is reported but marked ``in_seed``: the optimizer did not add it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from optimizers.evaluation.normalize import normalize_text
from optimizers.tasks.example import Example

MIN_WORDS = 4
NGRAM = 8


@dataclass(frozen=True)
class VerbatimCopy:
    """A stretch of one train example found in the prompt."""

    example_id: str
    field: str  # "input" or "target"
    words: str  # the copied words, normalised
    length: int  # in words
    whole: bool  # the entire input/target, not only part of it
    in_seed: bool  # already in the seed prompt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def describe(self) -> str:
        """``the whole input of train example t3 ("it was great fun")``."""
        extent = "the whole" if self.whole else f"{self.length} consecutive words of the"
        return f'{extent} {self.field} of train example {self.example_id} ("{self.words}")'


def _longest_common_run(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """Length and end index in ``a`` of the longest run of words ``a`` and ``b`` share."""
    best, end = 0, 0
    previous = [0] * (len(b) + 1)
    for i, word in enumerate(a, start=1):
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if word == other:
                current[j] = previous[j - 1] + 1
                if current[j] > best:
                    best, end = current[j], i
        previous = current
    return best, end


def verbatim_copies(
    prompt: str,
    train: Sequence[Example],
    *,
    seed_prompt: str = "",
    min_words: int = MIN_WORDS,
    ngram: int = NGRAM,
) -> list[VerbatimCopy]:
    """Every train input or target that ``prompt`` copies, by the rule of the module docstring."""
    if min_words < 1 or ngram < 1:
        raise ValueError(f"min_words and ngram must be >= 1, got {min_words} and {ngram}")
    words = normalize_text(prompt).split()
    vocabulary = set(words)
    shortest = min(min_words, ngram)
    seed = f" {normalize_text(seed_prompt)} "
    copies = []
    for example in train:
        fields = [("input", example.input), *(("target", t) for t in example.targets)]
        for field, text in fields:
            theirs = normalize_text(text).split()
            if len(theirs) < shortest or vocabulary.isdisjoint(theirs):
                continue  # too short to count, or no word in common
            length, end = _longest_common_run(words, theirs)
            whole = length == len(theirs) and length >= min_words
            if not whole and length < ngram:
                continue
            copied = " ".join(words[end - length : end])
            copies.append(
                VerbatimCopy(
                    example.id, field, copied, length, whole, in_seed=f" {copied} " in seed
                )
            )
    return copies
