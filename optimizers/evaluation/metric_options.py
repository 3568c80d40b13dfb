"""Reading a built-in metric's options: each reader says which values it accepts.

Options arrive as strings (``--metric-option tol=0.01``); a value the metric cannot
use raises :class:`~optimizers.evaluation.metric_error.MetricError` naming the
metric, the option and what was given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from optimizers.evaluation.metric_error import MetricError


def scope_option(metric: str, options: Mapping[str, str]) -> str:
    """``scope``: ``answer`` (the answer line, the default) or ``all`` (the whole output)."""
    scope = options.get("scope", "answer").strip().lower()
    if scope not in ("answer", "all"):
        raise MetricError(
            f"metric {metric!r}: option scope must be 'answer' (the answer line, the default) "
            f"or 'all' (the whole output), got {scope!r}"
        )
    return scope


def non_negative_float(metric: str, options: Mapping[str, str], key: str, default: float) -> float:
    """Option ``key`` as a finite number >= 0, or ``default`` when it is not given."""
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
