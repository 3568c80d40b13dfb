"""Snapshot of a ZOPO run: what the UI shows and what a checkpoint stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from optimizers.zopo.adam import AdamState

EventKind = Literal["step", "explore", "restart"]


@dataclass(frozen=True)
class ZOPOEvent:
    """One decision of the local search, for the run log.

    Attributes:
        kind: ``step`` (Adam step + projection), ``explore`` (uncertainty-triggered
            neighbours) or ``restart`` (back to the best point, Adam reset).
        step: the step counter when it happened.
        ids: candidates it chose (the projected one, the neighbours, or the restart point).
        mean: ``μ`` at the current point, when a surrogate was fit.
        uncertainty: the value compared with λ (variance or gradient trace).
        grad_norm: ``‖∇μ‖`` at the current point.

    """

    kind: EventKind
    step: int
    ids: tuple[str, ...]
    mean: float | None = None
    uncertainty: float | None = None
    grad_norm: float | None = None


@dataclass
class ZOPOState:
    """Everything needed to inspect a run and to resume it to the same subsequent asks.

    Resuming also needs the same candidates, added in the same order
    (see :meth:`~optimizers.zopo.search.ZOPOSearch.load_state`).
    """

    n_candidates: int = 0
    """How many candidates the search held (a resume check)."""
    evaluated: list[tuple[str, float]] = field(default_factory=list)
    """Scored candidates, in the order their scores arrived."""
    pending: list[str] = field(default_factory=list)
    """Asked for but not told yet; never asked again."""
    explore_queue: list[str] = field(default_factory=list)
    """Exploration neighbours chosen but not handed out yet."""
    current_id: str | None = None
    """The point the local search stands on (None before local search starts)."""
    last_mean: float | None = None
    """μ at the current point at the last step."""
    last_variance: float | None = None
    """v at the last step (see ``ZOPOSearch`` for where it is measured); divided by the
    prior k(z, z) when ``ZOPOConfig.relative_uncertainty``."""
    last_gradient_trace: float | None = None
    """Trace of the gradient-GP covariance at the last step (``gradient_trace`` mode only;
    divided by the prior trace when ``ZOPOConfig.relative_uncertainty``)."""
    last_grad_norm: float | None = None
    """‖∇μ‖ at the current point at the last step."""
    steps: int = 0
    """Adam steps taken (exploration and random picks are not steps)."""
    restarts: int = 0
    """Jumps back to the best point."""
    explorations: int = 0
    """Uncertainty-triggered explorations."""
    stall: int = 0
    """Steps in a row without a new best (restart at ``tolerance``)."""
    uncertain_streak: int = 0
    """Steps in a row with uncertainty above λ (explore at ``uncertainty_patience``)."""
    best_seen: float | None = None
    """Best score at the last progress check."""
    seen_scores: int = 0
    """Number of scores at the last progress check (stalling needs new scores)."""
    adam: AdamState = field(default_factory=AdamState)
    """Adam's moments (reset on restart)."""
    rng_state: Any = None
    """``random.Random.getstate()`` of the initial-design sampler."""
    log: list[ZOPOEvent] = field(default_factory=list)
    """Steps, explorations and restarts, oldest first."""

    @property
    def best(self) -> tuple[str, float] | None:
        """Best scored candidate (earliest on ties)."""
        if not self.evaluated:
            return None
        return max(self.evaluated, key=lambda pair: pair[1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``json.dumps`` works on it)."""
        data = asdict(self)
        data["adam"] = self.adam.to_dict()
        data["evaluated"] = [[i, s] for i, s in self.evaluated]
        data["log"] = [{**asdict(e), "ids": list(e.ids)} for e in self.log]
        data["rng_state"] = _to_lists(self.rng_state)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ZOPOState:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["adam"] = AdamState.from_dict(data["adam"])
        data["evaluated"] = [(str(i), float(s)) for i, s in data["evaluated"]]
        data["log"] = [ZOPOEvent(**{**e, "ids": tuple(e["ids"])}) for e in data["log"]]
        data["rng_state"] = _to_tuples(data["rng_state"])
        return cls(**data)


def _to_lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_to_lists(v) for v in value]
    return value


def _to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuples(v) for v in value)
    return value
