"""The JSON report read through typed fields: what the CLI, the tools and the app use.

The report stays the dict ``agent.run.report.OptimizeReport.to_dict`` makes (it is what
``--json`` prints, ``report.json`` holds and the downloads are); :meth:`ReportFields.of`
reads it once, so the modules that show it (the CLI's table and summary, the LangChain
and MCP tools' summary, the app's chat, panels and views) never key into it. Reports
written before a field existed read with that field's old default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from optimizers.budget import Budget
from optimizers.diagnostics.low_score import LowScore
from optimizers.evaluation.chat_calls import Usage

T = TypeVar("T")


def from_fields(cls: type[T], data: Mapping[str, Any]) -> T:
    """A dataclass of plain fields from its JSON.

    A missing field takes its default, and keys it has no field for are ignored (JSON
    written by an older or a newer version).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: data[name] for name in names if name in data})


def usage_of(data: Mapping[str, Mapping[str, Any]]) -> dict[str, Usage]:
    """Per-role usage from its JSON (``{role: asdict(Usage)}``)."""
    return {role: from_fields(Usage, counts) for role, counts in data.items()}


@dataclass(frozen=True)
class Spend:
    """What the roles' usage adds up to: paid calls, free cache hits, tokens."""

    calls: int = 0
    cache_hits: int = 0
    tokens: int = 0

    @classmethod
    def of(cls, usage: Mapping[str, Usage]) -> Spend:
        """The totals over every role of ``usage``."""
        roles = usage.values()
        return cls(
            calls=sum(role.calls for role in roles),
            cache_hits=sum(role.cache_hits for role in roles),
            tokens=sum(role.prompt_tokens + role.completion_tokens for role in roles),
        )


@dataclass(frozen=True)
class Score:
    """A split's score: mean, 95% interval, examples."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Score | None:
        """A report's score entry (``split, mean, ci95, n``), or None when not scored."""
        if data is None:
            return None
        low, high = data["ci95"]
        return cls(mean=data["mean"], low=low, high=high, n=data["n"])

    def compact(self) -> dict[str, Any]:
        """Mean, 95% interval and n only (the tools' JSON)."""
        return {"mean": self.mean, "ci95": [self.low, self.high], "n": self.n}


@dataclass(frozen=True)
class Difference:
    """The paired test difference, best − initial (``asdict(PairedComparison)``)."""

    n: int
    diff: float
    low: float
    high: float
    p_value: float
    wins: int
    losses: int
    ties: int

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Difference | None:
        """The report's ``test_difference``, or None when it was not computed."""
        if not data:
            return None
        interval = data["interval"]
        return cls(
            n=data["n"], diff=data["diff"], low=interval["low"], high=interval["high"],
            p_value=data["p_value"], wins=data["wins"], losses=data["losses"], ties=data["ties"],
        )  # fmt: skip

    def compact(self) -> dict[str, Any]:
        """Flattened, the interval as ``ci95`` (the tools' JSON)."""
        return {
            "diff": self.diff, "ci95": [self.low, self.high], "p_value": self.p_value,
            "wins": self.wins, "losses": self.losses, "ties": self.ties, "n": self.n,
        }  # fmt: skip


@dataclass(frozen=True)
class Optimism:
    """Selection optimism: the chosen prompt's dev score (which chose it) against its test score."""

    dev: float
    test: float
    dev_minus_test: float

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Optimism | None:
        """The report's ``selection_optimism``, or None when test was not scored."""
        return None if data is None else from_fields(cls, data)


@dataclass(frozen=True)
class ReportFields:
    """What the app, the CLI and the tools read of a report.

    ``best_parts`` and ``changed_parts`` are None in reports from before prompts had
    parts; ``guard_reason`` is None without a guard, and ``guard_compared`` says whether
    the guard compared the best prompt with yours on dev. ``search_calls`` (the paid
    calls of the search, test scoring apart) is None in reports from before it was kept.
    """

    run: str
    task: str
    optimizer: str | None
    seed_prompt: str
    best_prompt: str
    best_parts: dict[str, Any] | None
    """The best prompt's parts as JSON (``StructuredPrompt.parts()``)."""
    best_rendered: str | None
    changed_parts: tuple[str, ...] | None
    guard_reason: str | None
    guard_compared: bool
    seed_dev: Score
    best_dev: Score
    seed_test: Score | None
    best_test: Score | None
    difference: Difference | None
    optimism: Optimism | None
    diagnosis: LowScore | None
    directives: tuple[str, ...]
    steps: int
    dev_queries: int
    search_calls: int | None
    wall_time_s: float
    stopped: str
    usage: dict[str, Usage]
    in_flight: dict[str, int]
    """Per role, the requests in flight the endpoint was allowed at the end ({} if unknown)."""
    candidates: int
    rejections: int
    config: dict[str, Any]
    """The run's configuration as recorded (free-form JSON: shown, and printed whole)."""

    @classmethod
    def of(cls, report: Mapping[str, Any]) -> ReportFields:
        """Read ``report`` (the ``OptimizeReport.to_dict()`` shape)."""
        scores, guard = report["scores"], report.get("guard") or {}
        changed = (report.get("changed_parts") or ()) if "changed_parts" in report else None
        return cls(
            run=report.get("run", ""),
            task=str(report.get("task")),
            optimizer=report.get("optimizer"),
            seed_prompt=report["seed_prompt"],
            best_prompt=report["best_prompt"],
            best_parts=report.get("best_parts") or None,
            best_rendered=report.get("best_rendered") or None,
            changed_parts=None if changed is None else tuple(changed),
            guard_reason=guard.get("reason") if guard else None,
            guard_compared=bool(guard.get("dev_vs_seed")),
            seed_dev=_score(scores["initial"]["dev"]),
            best_dev=_score(scores["best"]["dev"]),
            seed_test=Score.of(scores["initial"]["test"]),
            best_test=Score.of(scores["best"]["test"]),
            difference=Difference.of(report.get("test_difference")),
            optimism=Optimism.of(report.get("selection_optimism")),
            diagnosis=_low_score(report.get("diagnosis")),
            directives=tuple(report.get("directives", ())),
            steps=report.get("steps", 0),
            dev_queries=report.get("dev_queries", 0),
            search_calls=report.get("search_calls"),
            wall_time_s=report.get("wall_time_s", 0.0),
            stopped=str(report.get("stopped", "?")),
            usage=usage_of(report.get("usage") or {}),
            in_flight=dict(report.get("in_flight") or {}),
            candidates=len(report.get("trajectory", [])),
            rejections=len(report.get("rejected", [])),
            config=report.get("config") or {},
        )  # fmt: skip

    @property
    def spend(self) -> Spend:
        """The run's paid calls, cache hits and tokens over both models."""
        return Spend.of(self.usage)

    @property
    def budget(self) -> Budget | None:
        """The budget the run was given, as recorded in its config (None if none was)."""
        found = self.config.get("budget")
        return Budget(**found) if found else None

    @property
    def splits(self) -> dict[str, int] | None:
        """Examples per split (``train``, ``dev``, ``test``) as recorded in the config."""
        return self.config.get("splits")

    @property
    def models_local(self) -> bool:
        """Whether both models ran on the embedded server (their config has no ``base_url``)."""
        roles = (self.config.get("task_model"), self.config.get("optimizer_model"))
        return all(role is not None and role.get("base_url") is None for role in roles)


def _low_score(data: dict[str, Any] | None) -> LowScore | None:
    return LowScore.from_dict(data) if data else None


def _score(data: Mapping[str, Any]) -> Score:
    score = Score.of(data)
    if score is None:
        raise ValueError("expected a dev score in the report, found none")
    return score
