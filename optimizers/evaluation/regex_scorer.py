"""The ``regex`` metric: each target is a regular expression searched in the output.

Targets are compiled with ``re`` (its errors and semantics); when the optional
``regex`` module is installed each search also gets a timeout, so a pathological
pattern scores 0 instead of hanging the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from optimizers.evaluation.metric_error import MetricError, preview
from optimizers.evaluation.metric_options import non_negative_float

try:  # the `regex` module can time out a search; it is optional (transformers brings it)
    import regex as _timeout_regex
except ImportError:  # pragma: no cover - depends on the environment
    _timeout_regex = None

logger = logging.getLogger(__name__)

MAX_REGEX_LENGTH = 500
"""Longest pattern the ``regex`` metric accepts (a guard against pathological patterns)."""

REGEX_TIMEOUT_S = 1.0
"""Default time (s) one regex search may take before the example scores 0 (needs ``regex``)."""

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


def make_regex(options: Mapping[str, str]) -> Callable[[str, Sequence[str]], float]:
    """The ``regex`` rule; options ``flags`` (i, m, s, x) and ``timeout`` (seconds)."""
    flags = 0
    for char in options.get("flags", "").replace(",", "").replace(" ", "").lower():
        if char not in _REGEX_FLAGS:
            raise MetricError(
                f"metric 'regex': unknown flag {char!r} in flags={options['flags']!r}; "
                f"known flags: {', '.join(_REGEX_FLAGS)} (i = ignore case)"
            )
        flags |= _REGEX_FLAGS[char]
    timeout = non_negative_float("regex", options, "timeout", REGEX_TIMEOUT_S)
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
