"""The ``numeric`` metric: the last number in the output equals the target's.

Numbers are read as people write them: thousands separators, decimals, exponents,
fractions ("3/4"), a unicode minus sign, and the words zero to twenty when the
text holds no digits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from optimizers.evaluation.metric_error import MetricError
from optimizers.evaluation.metric_options import non_negative_float
from optimizers.evaluation.normalize import clean_text

_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<sign>[-+\u2212])?"  # \u2212: minus sign
    r"(?:(?P<num>\d+)\s*[/\u2044]\s*(?P<den>\d+)(?!\s*[/\u2044.]?\d)"  # \u2044: fraction slash
    r"|(?P<value>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+))"
)
_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)
_NUMBER_WORD_RE = re.compile(rf"\b(?:{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)


def _last_number(text: str) -> float | None:
    """Return the last number in ``text``; number words (zero..twenty) only if no digits."""
    text = clean_text(text)
    last: float | None = None
    for match in _NUMBER_RE.finditer(text):
        if match["value"] is not None:
            number = float(match["value"].replace(",", ""))
        else:
            denominator = float(match["den"])  # float(): no digit limit, huge → inf
            if denominator == 0:
                continue
            number = float(match["num"]) / denominator
        if match["sign"] in ("-", "\u2212"):
            number = -number
        if math.isfinite(number):
            last = number
    if last is not None:
        return last
    words = _NUMBER_WORD_RE.findall(text)
    return float(_NUMBER_WORDS.index(words[-1].lower())) if words else None


def make_numeric(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    """The ``numeric`` rule; options ``tol`` (absolute, default 1e-6) and ``rel_tol``."""
    abs_tol = non_negative_float("numeric", options, "tol", 1e-6)
    rel_tol = non_negative_float("numeric", options, "rel_tol", 0.0)

    def numeric(prediction: str, targets: Sequence[str]) -> float:
        predicted = _last_number(prediction)
        matched = False
        for target in targets:
            wanted = _last_number(target)
            if wanted is None:
                raise MetricError(f"metric 'numeric': target {target!r} holds no number")
            if predicted is not None and math.isclose(
                predicted, wanted, rel_tol=rel_tol, abs_tol=abs_tol
            ):
                matched = True
        return float(matched)

    return numeric
