"""A run as the app shows it (its *view*): typed fields, and their JSON for ``view.json``.

The panels read one :class:`RunView` per run: status, chat messages, the scored
candidates (:class:`ViewEntry`, report-shaped), rejected candidates, per-example results
of the best prompt, the embedding map, budget used and limits, and the report. JSON
is only read and written at the edges: :meth:`RunView.from_json` and
:meth:`RunView.to_json` (``view.json``, :mod:`ui.panels.stored_view`) and
:meth:`RunView.take_report` (a run's JSON report). ``view.json`` files written before
these types existed have the same keys and load as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from agent.run.report_fields import ReportFields, from_fields, usage_of
from optimizers.diagnostics.low_score import LowScore
from optimizers.evaluation.chat_calls import Usage
from optimizers.events import TrajectoryEntry

Json = dict[str, Any]
_ENTRY_FIELDS = tuple(f.name for f in fields(TrajectoryEntry))


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class ViewEntry(TrajectoryEntry):
    """A scored candidate as the app lists it (its index in the trajectory is its ``#``).

    ``rolled_back``: a later "roll back" took it out of the running for best. ``number``
    and ``memory_id`` come with the report (the candidate's # and its prompt-memory record).
    """

    rolled_back: bool = False
    number: int | None = None
    memory_id: str | None = None

    @classmethod
    def scored(cls, entry: TrajectoryEntry) -> ViewEntry:
        """``entry`` as a live run records it (its ``meta`` made JSON-safe)."""
        values = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        return cls(**values | {"meta": _json_safe(entry.meta)})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ViewEntry:
        """An entry of a report's or a saved view's trajectory (older ones lack some fields)."""
        dev = float(data["dev"])
        return cls(
            step=data["step"], source=data["source"], prompt=data["prompt"], dev=dev,
            ci95=tuple(data.get("ci95") or (dev, dev)), reused=bool(data.get("reused")),
            complete=data.get("complete", True), examples=data.get("examples", 0),
            parts=data.get("parts") or {}, meta=data.get("meta") or {},
            rolled_back=bool(data.get("rolled_back")), number=data.get("number"),
            memory_id=data.get("memory_id"),
        )  # fmt: skip

    def to_json(self) -> Json:
        """The report's shape (``number`` and ``memory_id`` only when known)."""
        data = self.as_dict()
        for key in ("number", "memory_id"):
            if data[key] is None:
                del data[key]
        return data


@dataclass(frozen=True)
class Rejected:
    """A candidate that broke a hard rule and was not scored."""

    text: str
    source: str
    violations: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rejected:
        """An entry of ``rejected`` (report or saved view)."""
        violations = tuple(data.get("violations") or ())
        return cls(text=data["text"], source=data.get("source", ""), violations=violations)

    def to_json(self) -> Json:
        """JSON (``violations`` as a list)."""
        return {"text": self.text, "source": self.source, "violations": list(self.violations)}


@dataclass(frozen=True)
class ExampleRow:
    """One dev example of the best prompt: input, right answers, output, score, error."""

    input: str
    targets: tuple[str, ...]
    output: str
    score: float
    error: str | None = None

    @classmethod
    def of(cls, result: Any) -> ExampleRow:
        """An :class:`~optimizers.evaluation.evaluator.ExampleResult`."""
        return cls(
            input=result.input, targets=tuple(result.targets), output=result.output,
            score=result.score, error=result.error,
        )  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExampleRow:
        """A row of a saved view."""
        return cls(
            input=data["input"], targets=tuple(data["targets"]), output=data["output"],
            score=float(data["score"]), error=data.get("error"),
        )  # fmt: skip

    def to_json(self) -> Json:
        """JSON (``targets`` as a list)."""
        return asdict(self) | {"targets": list(self.targets)}


@dataclass(frozen=True)
class Used:
    """What the run has spent so far: dev queries, paid calls, seconds."""

    queries: int = 0
    calls: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Limits:
    """The run's budget as the meter shows it; None is no limit (all None before it starts)."""

    max_queries: int | None = None
    max_calls: int | None = None
    max_seconds: float | None = None


@dataclass(frozen=True)
class GpField:
    """ZOPO's unscored candidates on the map's plane, with the GP's relative std and mean."""

    xy: list[list[float]]
    std: list[float]
    mean: list[float]


@dataclass(frozen=True)
class EmbeddingMap:
    """The scored prompts on a 2-D plane, coloured by dev score, with ZOPO's path and GP.

    ``points`` are unique prompts (first occurrence in the trajectory); ``path`` lists
    their rows in the order ZOPO chose them; ``field`` is the GP's relative posterior
    std at nearby unscored candidates projected on the same plane (live runs only).
    Made by :func:`ui.panels.embedding_map.embedding_map`.
    """

    xy: list[list[float]]
    scores: list[float]
    numbers: list[int]  # trajectory "#" of each point
    sources: list[str]
    uncertainty: list[float | None]  # ZOPO's relative variance when it chose the point
    seed: int
    best: int | None
    path: list[int]
    explained: tuple[float, float]
    field: GpField | None = None

    def to_dict(self) -> Json:
        """JSON form (for the saved view)."""
        return asdict(self) | {"explained": list(self.explained)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddingMap:
        """Inverse of :meth:`to_dict`."""
        gp = data.get("field")
        gp_field = None if gp is None else GpField(xy=gp["xy"], std=gp["std"], mean=gp["mean"])
        return cls(**{**data, "explained": tuple(data["explained"]), "field": gp_field})


_PLAIN = (  # the fields that are JSON as they are
    "run", "status", "detail", "question", "version", "request", "seed_prompt", "messages",
    "steps", "best_prompt", "best_dev", "report",
)  # fmt: skip


@dataclass
class RunView:
    """Everything the app shows about one run; a live run updates it under its lock.

    ``request`` is the request's JSON record (``OptimizeRequest.config()``), ``messages``
    the chat in Gradio's message format, and ``report`` the JSON report once there is one
    (read it through :class:`~agent.run.report_fields.ReportFields`). ``version`` goes up
    with every change, so the page redraws only what changed.
    """

    run: str
    status: str = "starting"
    detail: str = ""
    question: str | None = None
    version: int = 0
    request: Json = field(default_factory=dict)
    seed_prompt: str = ""
    messages: list[Json] = field(default_factory=list)
    trajectory: list[ViewEntry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    steps: int = 0
    best_prompt: str = ""
    best_dev: float | None = None
    examples: list[ExampleRow] = field(default_factory=list)
    map: EmbeddingMap | None = None
    used: Used = field(default_factory=Used)
    usage: dict[str, Usage] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    report: Json | None = None
    diagnosis: LowScore | None = None  # why the seed scored (near) zero, and the fixes

    @classmethod
    def new(cls, run: str, request: Mapping[str, Any], messages: list[Json]) -> RunView:
        """The view of a run that has not scored anything yet."""
        prompt = request.get("prompt", "")
        return cls(
            run=run, request=dict(request), seed_prompt=prompt, messages=list(messages),
            best_prompt=prompt, limits=from_fields(Limits, request.get("budget") or {}),
        )  # fmt: skip

    @property
    def data(self) -> str | None:
        """The request's data: a stored upload's path or ``builtin:NAME`` (None if unknown)."""
        return self.request.get("data")

    def take_report(self, report: Json) -> ReportFields:
        """Show a finished run's report: its candidates, best prompt, usage and time."""
        read = ReportFields.of(report)
        self.report = report
        self.best_prompt, self.best_dev = read.best_prompt, read.best_dev.mean
        self.usage = read.usage
        self.trajectory = [ViewEntry.from_json(e) for e in report.get("trajectory", [])]
        self.rejected = [Rejected.from_json(r) for r in report.get("rejected", [])]
        self.steps = read.steps
        self.used = replace(self.used, seconds=read.wall_time_s)
        self.diagnosis = read.diagnosis or self.diagnosis
        return read

    def to_json(self) -> Json:
        """What ``view.json`` holds."""
        return {
            **{name: getattr(self, name) for name in _PLAIN},
            "trajectory": [entry.to_json() for entry in self.trajectory],
            "rejected": [rejected.to_json() for rejected in self.rejected],
            "examples": [row.to_json() for row in self.examples],
            "map": None if self.map is None else self.map.to_dict(),
            "used": asdict(self.used),
            "usage": {role: asdict(usage) for role, usage in self.usage.items()},
            "limits": asdict(self.limits),
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunView:
        """A view from ``view.json`` (a missing field reads as a new run's)."""
        return cls(
            **{name: data[name] for name in _PLAIN if name in data},
            trajectory=[ViewEntry.from_json(e) for e in data.get("trajectory") or []],
            rejected=[Rejected.from_json(r) for r in data.get("rejected") or []],
            examples=[ExampleRow.from_json(e) for e in data.get("examples") or []],
            map=EmbeddingMap.from_dict(data["map"]) if data.get("map") else None,
            used=from_fields(Used, data.get("used") or {}),
            usage=usage_of(data.get("usage") or {}),
            limits=from_fields(Limits, data.get("limits") or {}),
            diagnosis=LowScore.from_dict(data["diagnosis"]) if data.get("diagnosis") else None,
        )
