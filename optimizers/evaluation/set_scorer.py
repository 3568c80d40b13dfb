"""The ``set`` metric: the items of a list answer equal the target's, in any order.

Items are separated by commas, semicolons (also the ideographic and fullwidth ones),
"&", "and", or one per line; list markers and an "Explanation:" after the list are
not items.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from optimizers.evaluation.normalize import answer_line, clean_text, normalize_text, strip_label

# Item separators, including the ideographic and fullwidth comma and semicolon.
_SET_SEPARATOR_RE = re.compile(r"[,;\u3001\uff0c\uff1b&]|\band\b", re.IGNORECASE)
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)])\s+")
_COMMENTARY_RE = re.compile(
    r"^[\s*_#>]*(?:explanation|reason|reasoning|rationale|note|because|justification)\b",
    re.IGNORECASE,
)


def _set_items(text: str, *, whole: bool) -> frozenset[str]:
    """Normalised items of a list answer.

    For a target (``whole``) every line counts. For a prediction: if the answer line
    holds separators, only that line; otherwise the block of lines from the answer
    line up to a blank line or an "Explanation:"-style line (one item per line).
    """
    text = clean_text(text)
    lines = text.split("\n")
    if not whole:
        first = answer_line(text)
        if _SET_SEPARATOR_RE.search(first):
            lines = [first]
        else:
            block: list[str] = []
            started = False
            for line in lines:
                content = strip_label(line) if not started else line
                if not normalize_text(content):
                    if started:
                        break
                    continue
                if started and _COMMENTARY_RE.match(line):
                    break
                started = True
                block.append(content)
            lines = block
    items = set()
    for line in lines:
        for part in _SET_SEPARATOR_RE.split(strip_label(line)):
            item = normalize_text(_LIST_MARKER_RE.sub("", part))
            if item:
                items.add(item)
    return frozenset(items)


def make_set(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    """The ``set`` rule (it takes no options)."""

    def set_match(prediction: str, targets: Sequence[str]) -> float:
        predicted = _set_items(prediction, whole=False)
        return float(any(predicted == _set_items(target, whole=True) for target in targets))

    return set_match
