"""What a run tells its watchers (progress bars, the app, logs) as it goes.

Each event is a frozen dataclass; watchers match on the type. :meth:`as_dict` is the
JSON shape the public streaming API has always yielded (``kind``, ``step`` and the
event's fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from optimizers.base import Scored


@dataclass(frozen=True)
class TrajectoryEntry:
    """One scored candidate as every view of a run shows it (report, app, events)."""

    step: int
    source: str
    prompt: str
    dev: float
    ci95: tuple[float, float]
    reused: bool
    complete: bool
    examples: int
    parts: dict[str, Any]
    meta: dict[str, Any]

    @classmethod
    def of(cls, scored: Scored) -> TrajectoryEntry:
        """The entry of ``scored``."""
        candidate = scored.candidate
        return cls(
            step=candidate.step,
            source=candidate.source,
            prompt=candidate.text,
            dev=scored.score,
            ci95=(scored.dev.interval.low, scored.dev.interval.high),
            reused=scored.reused,
            complete=scored.complete,
            examples=scored.dev.n,
            parts=candidate.parts.parts(),
            meta=candidate.meta,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of reports and saved views (``ci95`` as a list)."""
        return {**asdict(self), "ci95": list(self.ci95)}


@dataclass(frozen=True)
class _Event:
    kind: ClassVar[str]
    step: int

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class Raced(_Event):
    """A candidate was scored on one more block of dev (``dropped``: why it stops here)."""

    kind: ClassVar[str] = "raced"
    examples: int
    of: int
    calls: int
    dropped: str | None


@dataclass(frozen=True)
class Scoring(_Event):
    """A new candidate is about to be scored on the next block of dev (progress in a step)."""

    kind: ClassVar[str] = "scoring"
    candidate: int  # its place among the step's new candidates, from 1
    candidates: int  # how many new candidates the step scores
    examples: int  # dev examples it will have been scored on after this block
    of: int
    prompt: str

    @property
    def where(self) -> str:
        """``candidate 3 of 8, 4 of 12 dev examples``: how far the step has come."""
        return (
            f"candidate {self.candidate} of {self.candidates}, "
            f"{self.examples} of {self.of} dev examples"
        )


@dataclass(frozen=True)
class CandidateScored(_Event):
    """A candidate's dev score is known (``number`` is its # in the run)."""

    kind: ClassVar[str] = "scored"
    number: int
    entry: TrajectoryEntry
    queries: int
    calls: int
    best: float

    def as_dict(self) -> dict[str, Any]:
        """Flat, the entry's prompt as ``text`` (the streaming API's shape)."""
        fields = self.entry.as_dict()
        return {
            "kind": self.kind, "step": self.step, "number": self.number,
            "text": fields.pop("prompt"), **fields,
            "queries": self.queries, "calls": self.calls, "best": self.best,
        }  # fmt: skip


@dataclass(frozen=True)
class CandidateRejected(_Event):
    """A candidate broke a hard constraint and was not scored."""

    kind: ClassVar[str] = "rejected"
    text: str
    source: str
    violations: tuple[str, ...]


@dataclass(frozen=True)
class StepDone(_Event):
    """One ask → score → tell round is over and recorded."""

    kind: ClassVar[str] = "step"
    best: float
    n: int


@dataclass(frozen=True)
class Stopped(_Event):
    """The search stopped, and why."""

    kind: ClassVar[str] = "stopped"
    reason: str


RunEvent = Raced | CandidateScored | CandidateRejected | StepDone | Stopped
EventFn = Callable[[RunEvent], None]
