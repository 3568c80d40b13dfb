"""The built-in metrics' scoring rules: exact, contains, f1, choice, regex, numeric, set.

Each factory takes the metric's options and returns ``score(prediction, targets)``,
scoring against the best-matching target. They never raise on strange model output
(empty, huge, control characters): a malformed answer scores 0. They raise
:class:`~optimizers.evaluation.metric_error.MetricError` only on misconfiguration.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from optimizers.evaluation.metric_error import MetricError
from optimizers.evaluation.normalize import (
    answer_line,
    clean_text,
    normalize_answer,
    normalize_text,
    remove_articles,
    strip_label,
    tokens,
)

try:  # the `regex` module can time out a search; it is optional (transformers brings it)
    import regex as _timeout_regex
except ImportError:  # pragma: no cover - depends on the environment
    _timeout_regex = None

logger = logging.getLogger(__name__)

MAX_REGEX_LENGTH = 500
"""Longest pattern the ``regex`` metric accepts (a guard against pathological patterns)."""

REGEX_TIMEOUT_S = 1.0
"""Default time (s) one regex search may take before the example scores 0 (needs ``regex``)."""


def preview(value: object, limit: int = 60) -> str:
    """``value`` as an error message shows it: its repr, cut at ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _answer_normalizer(scope: str) -> Callable[[str], str]:
    return normalize_answer if scope == "answer" else normalize_text


def _make_exact(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    normalize = _answer_normalizer(_scope_option("exact", options))

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
    normalize = _answer_normalizer(_scope_option("f1", options))

    def f1(prediction: str, targets: Sequence[str]) -> float:
        predicted = tokens(remove_articles(normalize(prediction)))
        return max(
            (_f1(predicted, tokens(remove_articles(normalize(target)))) for target in targets),
            default=0.0,
        )

    return f1


def _scope_option(metric: str, options: Mapping[str, str]) -> str:
    scope = options.get("scope", "answer").strip().lower()
    if scope not in ("answer", "all"):
        raise MetricError(
            f"metric {metric!r}: option scope must be 'answer' (the answer line, the default) "
            f"or 'all' (the whole output), got {scope!r}"
        )
    return scope


# --- choice -------------------------------------------------------------------------

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


def _make_choice(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
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


# --- regex --------------------------------------------------------------------------

_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@lru_cache(maxsize=1024)
def _compile(pattern: str, flags: int) -> tuple[re.Pattern[str], object | None]:
    """Compile with ``re`` (its errors and semantics), plus a ``regex`` twin for timeouts."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise MetricError(
            f"metric 'regex': target pattern is {len(pattern)} characters, the limit is "
            f"{MAX_REGEX_LENGTH}: {preview(pattern)}"
        )
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise MetricError(f"metric 'regex': invalid regular expression {pattern!r}: {exc}") from exc
    twin = None
    if _timeout_regex is not None:
        try:
            twin = _timeout_regex.compile(pattern, flags | _timeout_regex.VERSION0)
        except Exception:  # a construct `regex` reads differently: use `re` unguarded
            twin = None
    return compiled, twin


def _make_regex(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    flags = 0
    for char in options.get("flags", "").replace(",", "").replace(" ", "").lower():
        if char not in _REGEX_FLAGS:
            raise MetricError(
                f"metric 'regex': unknown flag {char!r} in flags={options['flags']!r}; "
                f"known flags: {', '.join(_REGEX_FLAGS)} (i = ignore case)"
            )
        flags |= _REGEX_FLAGS[char]
    timeout = _non_negative_float("regex", options, "timeout", REGEX_TIMEOUT_S)
    if timeout == 0:
        raise MetricError("metric 'regex': option timeout must be a positive number of seconds")

    def regex_match(prediction: str, targets: Sequence[str]) -> float:
        for pattern in targets:
            compiled, twin = _compile(pattern, flags)
            if twin is None:
                if compiled.search(prediction):
                    return 1.0
                continue
            try:
                if twin.search(prediction, timeout=timeout):  # type: ignore[attr-defined]
                    return 1.0
            except TimeoutError:
                logger.warning(
                    "metric 'regex': pattern %r took over %.1fs on a %d-character output; "
                    "scored as no match",
                    pattern,
                    timeout,
                    len(prediction),
                )
        return 0.0

    return regex_match


# --- numeric ------------------------------------------------------------------------

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


def _non_negative_float(metric: str, options: Mapping[str, str], key: str, default: float) -> float:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise MetricError(
            f"metric {metric!r}: option {key} must be a non-negative number, got {raw!r}"
        )
    return value


def _make_numeric(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    abs_tol = _non_negative_float("numeric", options, "tol", 1e-6)
    rel_tol = _non_negative_float("numeric", options, "rel_tol", 0.0)

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


# --- set ----------------------------------------------------------------------------

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


def _make_set(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    def set_match(prediction: str, targets: Sequence[str]) -> float:
        predicted = _set_items(prediction, whole=False)
        return float(any(predicted == _set_items(target, whole=True) for target in targets))

    return set_match


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
    "choice": _make_choice,
    "regex": _make_regex,
    "numeric": _make_numeric,
    "set": _make_set,
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
