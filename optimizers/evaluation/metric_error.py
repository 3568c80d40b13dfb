"""The one error a metric raises, and how its messages show a value."""

from __future__ import annotations


class MetricError(ValueError):
    """A metric that cannot be built or applied as configured (never bad model output)."""


def preview(value: object, limit: int = 60) -> str:
    """``value`` as an error message shows it: its repr, cut at ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
