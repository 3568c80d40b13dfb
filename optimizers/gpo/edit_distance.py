"""Word-level edit distance: how many words a candidate changed in the current prompt.

GPO's meta-prompt allows "up to s words" of change; the reference code only asks,
PromptPilot also measures. Words are whitespace-separated tokens compared
exactly (case and punctuation count), and one insertion, deletion or
substitution of a word costs 1, so the distance is the Levenshtein distance
over word sequences.
"""

from __future__ import annotations

from collections.abc import Sequence


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two token sequences (insert, delete, substitute cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))  # distances from a[:0] to each prefix of b
    for i, token in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + 1,  # delete token
                    current[j - 1] + 1,  # insert other
                    previous[j - 1] + (token != other),  # keep or substitute
                )
            )
        previous = current
    return previous[-1]


def word_edit_distance(candidate: str, current: str) -> int:
    """How many word insertions, deletions and substitutions turn ``current`` into ``candidate``."""
    return levenshtein(candidate.split(), current.split())
