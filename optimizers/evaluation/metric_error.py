"""The one error a metric raises: it cannot be built or applied as configured."""

from __future__ import annotations


class MetricError(ValueError):
    """A metric that cannot be built or applied as configured (never bad model output)."""
