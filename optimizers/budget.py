"""How much a run may spend: dev queries, paid LLM calls, seconds; and why a run stopped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StopReason = Literal[
    "budget: queries",
    "budget: calls",
    "budget: time",
    "converged",
    "no new candidates",
    "stop requested",
    "accepted by user",
    "interrupted",
]

DEFAULT_MAX_CALLS = 250
"""The default run's limit: paid LLM calls of the search (both models, test scoring apart)."""
DEFAULT_MAX_SECONDS = 210.0
"""And its time limit for the search, so that with test scoring a run ends within 5 minutes."""


@dataclass(frozen=True, kw_only=True)
class Budget:
    """Limits on a run; ``None`` means unlimited. At least one must be set.

    A *query* is one dev evaluation of a prompt not scored before (ZOPO's unit).
    *Calls* are paid LLM calls of both models together; cache hits are free.
    """

    max_queries: int | None = None
    max_calls: int | None = None
    max_seconds: float | None = None

    @classmethod
    def given(
        cls,
        queries: int | None = None,
        calls: int | None = None,
        seconds: float | None = None,
    ) -> Budget:
        """The limits a person set; with none set, the default run's (:meth:`default`)."""
        if queries is None and calls is None and seconds is None:
            return cls.default()
        return cls(max_queries=queries, max_calls=calls, max_seconds=seconds)

    @classmethod
    def default(cls) -> Budget:
        """The default run: :data:`DEFAULT_MAX_CALLS` paid calls, :data:`DEFAULT_MAX_SECONDS`."""
        return cls(max_calls=DEFAULT_MAX_CALLS, max_seconds=DEFAULT_MAX_SECONDS)

    def __post_init__(self) -> None:
        limits = (self.max_queries, self.max_calls, self.max_seconds)
        if all(limit is None for limit in limits):
            raise ValueError("a budget needs at least one limit (queries, calls or seconds)")
        if any(limit is not None and limit <= 0 for limit in limits):
            raise ValueError(f"budget limits must be positive, got {self}")


def plain_stop(reason: str, budget: Budget | None = None) -> str:
    """Why a run stopped, in a person's words ("used its 250 LLM calls").

    The JSON report keeps the precise ``reason``; the CLI and the chat say this.
    """
    limits = budget or Budget.default()
    said = {
        "budget: queries": f"used its {limits.max_queries} evaluations on the dev examples",
        "budget: calls": f"used its {limits.max_calls} LLM calls",
        "budget: time": f"reached its time limit ({limits.max_seconds or 0:.0f} s)",
        "converged": "found nothing better to try",
        "no new candidates": "ran out of new prompts to try",
        "stop requested": "stopped as you asked",
        "accepted by user": "ended on the prompt you accepted",
        "interrupted": "was interrupted",
    }
    return said.get(reason, reason)
