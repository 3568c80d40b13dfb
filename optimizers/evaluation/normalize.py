r"""Text normalisation shared by the metrics.

Small models wrap a one-word answer in labels, quotes, markdown, trailing
explanations and stray punctuation ("Output: **Negative.**\nExplanation: ...").
These helpers reduce such an output to the answer it commits to, so that metrics
compare answers rather than formatting. Every function accepts any string
(empty, control characters, very long) and never raises.
"""

from __future__ import annotations

import re
import string
import unicodedata

__all__ = [
    "ANSWER_LABELS",
    "answer_line",
    "clean_text",
    "normalize_answer",
    "normalize_text",
    "remove_articles",
    "remove_punctuation",
    "strip_label",
    "strip_quotes",
    "tokens",
]

# Labels a model puts in front of its answer ("Answer: B", "**Output:** yes").
ANSWER_LABELS: tuple[str, ...] = (
    "final answer",
    "correct answer",
    "the answer",
    "answer",
    "output",
    "label",
    "predicted label",
    "prediction",
    "response",
    "result",
    "sentiment",
    "category",
    "classification",
    "class",
    "a",
)

# Decoration that may surround a label or an answer: markdown emphasis, headings,
# block quotes, bullets and quotes of any kind.
_DECOR = r"[\s*_#>`~\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u201a]*"
_LABEL_RE = re.compile(
    rf"^{_DECOR}(?:{'|'.join(re.escape(label) for label in ANSWER_LABELS)})"
    rf"{_DECOR}[:\uff1a]{_DECOR}",  # \uff1a: fullwidth colon
    re.IGNORECASE,
)

_QUOTE_PAIRS = {
    '"': '"',
    "'": "'",
    "`": "`",
    "\u201c": "\u201d",  # curly double quotes
    "\u2018": "\u2019",  # curly single quotes
    "\u00ab": "\u00bb",  # guillemets
    "\u201e": "\u201c",  # German double quotes
    "\u201a": "\u2018",  # German single quotes
}

# Characters that separate words ("positive/negative", "self-driving"): they become
# a space rather than vanishing, so the words stay apart.
_WORD_SEPARATORS = frozenset("/\\-_|\u2010\u2011\u2012\u2013\u2014\u2015")  # + Unicode dashes

# A decimal point between digits and a minus sign starting a number survive
# punctuation removal, so "3.5" does not become "35" nor "-3" become "3".
_KEEP_DECIMAL_RE = re.compile(r"(?<=\d)\.(?=\d)")
_KEEP_MINUS_RE = re.compile(r"(?<![\w.])-(?=\d)")
_DECIMAL_MARK = "\x00"  # control characters are gone by then, so these are free
_MINUS_MARK = "\x01"

_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")


class _CleanTable(dict[int, int | str | None]):
    """``str.translate`` table, filled lazily: controls → space, format chars → removed."""

    def __missing__(self, codepoint: int) -> int | str | None:
        char = chr(codepoint)
        category = unicodedata.category(char)
        value: int | str | None
        if char in "\n\t":
            value = codepoint
        elif category in ("Zl", "Zp") or char in "\r\x0b\x0c\x1c\x1d\x1e\x85":
            value = "\n"
        elif category == "Cc":
            value = " "
        elif category in ("Cf", "Cs"):  # zero-width and BOM chars, lone surrogates
            value = None
        else:
            value = codepoint
        self[codepoint] = value
        return value


class _PunctuationTable(dict[int, int | str | None]):
    """``str.translate`` table: punctuation and symbols removed, word separators → space."""

    def __missing__(self, codepoint: int) -> int | str | None:
        char = chr(codepoint)
        value: int | str | None
        if char in _WORD_SEPARATORS:
            value = " "
        elif char in string.punctuation or unicodedata.category(char)[0] in "PS":
            value = None
        else:
            value = codepoint
        self[codepoint] = value
        return value


_CLEAN_TABLE = _CleanTable()
_PUNCTUATION_TABLE = _PunctuationTable()


def clean_text(text: str) -> str:
    """Unicode-normalise (NFKC) and neutralise control characters.

    Control characters become spaces (vertical tab, form feed and the Unicode line
    separators become newlines); zero-width and other format characters are removed.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n")
    text = unicodedata.normalize("NFKC", text.translate(_CLEAN_TABLE))
    return text.translate(_CLEAN_TABLE)  # NFKC can produce new control-like chars


def strip_quotes(text: str) -> str:
    """Strip whitespace and matching quotes around the whole text, repeatedly."""
    text = text.strip()
    while len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def strip_label(text: str) -> str:
    """Remove a leading answer label such as ``Output:``, ``Answer:``, ``A:``, ``Label:``.

    Case-insensitive, tolerant of markdown and quotes around the label
    ("**Answer:** B"), applied repeatedly ("Output: Answer: B" → "B").
    """
    text = strip_quotes(text)
    for _ in range(4):
        stripped = _LABEL_RE.sub("", text, count=1)
        if stripped == text:
            break
        text = strip_quotes(stripped)
    return text


def remove_punctuation(text: str) -> str:
    """Remove punctuation and symbols; word separators (``/ - _ |``) become spaces.

    A decimal point between digits and a minus sign starting a number are kept.
    """
    text = _KEEP_DECIMAL_RE.sub(_DECIMAL_MARK, text)
    text = _KEEP_MINUS_RE.sub(_MINUS_MARK, text)
    text = text.translate(_PUNCTUATION_TABLE)
    return text.replace(_DECIMAL_MARK, ".").replace(_MINUS_MARK, "-")


def normalize_text(text: str) -> str:
    """Lowercase (casefold), drop surrounding quotes and punctuation, collapse whitespace.

    Works on the whole text; see :func:`normalize_answer` for a model's answer.
    """
    text = strip_quotes(clean_text(text)).casefold()
    return " ".join(remove_punctuation(text).split())


def answer_line(text: str) -> str:
    r"""Return the line a model's answer is on: the first with content once unlabelled.

    "Output:\n\nNegative\nExplanation: ..." → "Negative". Lines holding only a
    label, punctuation or markdown (a code fence) are skipped. If only labels have
    content ("A:"), the first such line is returned as it is; "" if nothing has.
    """
    lines = clean_text(text).split("\n")
    for line in lines:
        candidate = strip_label(line)
        if normalize_text(candidate):
            return candidate
    for line in lines:
        if normalize_text(line):
            return strip_quotes(line)
    return ""


def normalize_answer(text: str) -> str:
    """Normalised answer: :func:`answer_line`, then :func:`normalize_text`.

    This is the exact-match normalisation of the ZOPO reference setup (first line,
    lowercase, no punctuation), plus label and quote stripping.
    """
    return normalize_text(answer_line(text))


def remove_articles(text: str) -> str:
    """Drop the articles ``a``, ``an``, ``the`` (SQuAD-style F1) from normalised text."""
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def tokens(text: str) -> list[str]:
    """Whitespace tokens of already-normalised text."""
    return text.split()
