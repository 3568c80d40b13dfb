"""The ``choice`` metric: which option letter a multiple-choice answer commits to.

A small model rarely answers with the bare letter: "The answer is (C)", "**B**",
"B) Paris" and "I think the answer is B" must all read as the letters they name,
while "the answer is a bit unclear" and "U.S." name none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from optimizers.evaluation.metric_error import MetricError
from optimizers.evaluation.normalize import answer_line, clean_text, normalize_answer, strip_label

# An explicit commitment: "The answer is (C)", "Answer: **B**", "the correct option is D".
_EXPLICIT_CHOICE_RE = re.compile(
    r"\b(?:answer|(?:correct|best|right)\s+(?:option|choice))\b"
    r"(?:\s+(?:is|would\s+be|will\s+be|should\s+be))?"
    r"[\s:=*_]*(?:(?:option|choice)\s+)?[(\[]?"
    r"(?P<letter>[A-Za-z])(?![\w'\u2019])",
    re.IGNORECASE,
)
# Option markers: "(B)", "[B]", "B)", "b)", "B." (not "U.S.", not "3B.").
_MARKER_CHOICE_RE = re.compile(
    r"[(\[](?P<p>[A-Za-z])[)\]]"
    r"|(?<![\w.(\[])(?P<q>[A-Za-z])\)"
    r"|(?<![\w.(\[])(?P<d>[A-Z])\.(?=[\s*_]|$)"
)
_LOWERCASE_OK_AFTER_RE = re.compile(r"\s*(?:[).,:;!?\]*_]|$)")
_PRONOUN_I_RE = re.compile(r"\s+[a-z]")
_TARGET_LETTER_RE = re.compile(r"[(\[]?\s*([A-Za-z])\s*[)\].:]?")
_NOT_ALNUM_RE = re.compile(r"[\W_]+")


def _chosen_letter(prediction: str, allowed: frozenset[str]) -> str | None:
    """Return the option letter a prediction commits to, or ``None``.

    Priority: an answer line that is a single letter ("B", "**B**", "Answer: B."),
    then the first explicit statement ("the answer is B"), then the first option
    marker ("(B)", "B)", "B.") in the text.
    """
    text = clean_text(prediction)
    line = _NOT_ALNUM_RE.sub("", answer_line(text))
    if len(line) == 1 and line.isascii() and line.isalpha() and line.upper() in allowed:
        return line.upper()
    for match in _EXPLICIT_CHOICE_RE.finditer(text):
        letter = match["letter"]
        if letter.islower() and not _LOWERCASE_OK_AFTER_RE.match(text, match.end()):
            continue  # "the answer is a bit unclear"
        if letter == "I" and _PRONOUN_I_RE.match(text, match.end()):
            continue  # "the answer, I think, ..." / "the answer is I believe B"
        if letter.upper() in allowed:
            return letter.upper()
    for match in _MARKER_CHOICE_RE.finditer(text):
        letter = match["p"] or match["q"] or match["d"]
        if letter.upper() in allowed:
            return letter.upper()
    return None


def _target_letter(target: str) -> str | None:
    match = _TARGET_LETTER_RE.fullmatch(strip_label(clean_text(target)))
    return match[1].upper() if match else None


def make_choice(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    """The ``choice`` rule; option ``letters`` lists the allowed letters (default A-Z)."""
    letters = options.get("letters", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    allowed = frozenset(_NOT_ALNUM_RE.sub("", letters).upper())
    if not allowed or not all(letter.isascii() and letter.isalpha() for letter in allowed):
        raise MetricError(
            f"metric 'choice': option letters must be option letters such as 'ABCD', "
            f"got {letters!r}"
        )

    def choice(prediction: str, targets: Sequence[str]) -> float:
        chosen = _chosen_letter(prediction, allowed)
        predicted_answer: str | None = None
        for target in targets:
            wanted = _target_letter(target)
            if wanted is not None:
                if chosen == wanted:
                    return 1.0
                continue
            if predicted_answer is None:  # a target that is not a letter: exact match
                predicted_answer = normalize_answer(prediction)
            if predicted_answer == normalize_answer(target):
                return 1.0
        return 0.0

    return choice
