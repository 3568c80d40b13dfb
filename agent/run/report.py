"""What a finished run hands back: seed vs best on dev and on the held-out test split.

Test is touched exactly once, after the search has stopped: the seed prompt and the
best prompt are scored on it and compared, paired by example. The report records the
full configuration so the run can be repeated.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.run.report_fields import Difference, Score
from agent.run.session import RunSession
from memory.prompt_record import prompt_id
from optimizers.diagnostics.low_score import LowScore, explain_low_score
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult
from optimizers.evaluation.stats import PairedComparison
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.evaluation.templates import parse_template
from optimizers.events import TrajectoryEntry
from optimizers.outcome import RunOutcome
from optimizers.selection.guard import GuardDecision


@dataclass(frozen=True)
class OptimizeReport:
    """The result of a run: best prompt, scores per split with intervals, costs, config."""

    run: str
    task: str
    optimizer: str
    seed_prompt: str
    best_prompt: str
    best_parts: StructuredPrompt
    guard: GuardDecision
    seed_dev: EvalResult
    best_dev: EvalResult
    seed_test: EvalResult | None
    best_test: EvalResult | None
    test_difference: PairedComparison | None
    outcome: RunOutcome
    usage: dict[str, Usage]
    wall_time_s: float
    config: dict[str, Any]
    search_calls: int = 0
    """Paid calls of the search (both models), before test scoring."""
    diagnosis: LowScore | None = None
    """Why the seed scored (near) zero on dev, and the fixes to offer; None otherwise."""
    in_flight: dict[str, int] = field(default_factory=dict)
    """Per role, the requests the endpoint was allowed in flight at the end (adaptive)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` / ``--out`` payload."""

        def score(result: EvalResult | None) -> dict[str, Any] | None:
            if result is None:
                return None
            low, high = result.interval.low, result.interval.high
            return {"split": result.split, "mean": result.mean, "ci95": [low, high], "n": result.n}

        template = parse_template(self.config.get("template", "inline"))
        seed_parts = StructuredPrompt.plain(self.seed_prompt)
        return {
            "run": self.run,
            "task": self.task,
            "optimizer": self.optimizer,
            "seed_prompt": self.seed_prompt,
            "best_prompt": self.best_prompt,
            "best_parts": self.best_parts.parts(),
            "best_rendered": self.best_parts.rendered(template),
            "changed_parts": self.best_parts.changed_parts(seed_parts),
            "guard": self.guard.to_dict(),
            "selection_optimism": optimism(self.best_dev, self.best_test),
            "best_number": self.outcome.answer_number,
            "best_memory_id": prompt_id(self.run, self.outcome.answer.candidate.identity),
            "best_scored_number": self.outcome.best_number,
            "chosen_by": "user" if self.outcome.accepted is not None else "search",
            "scores": {
                "initial": {"dev": score(self.seed_dev), "test": score(self.seed_test)},
                "best": {"dev": score(self.best_dev), "test": score(self.best_test)},
            },
            "test_difference": None
            if self.test_difference is None
            else asdict(self.test_difference),
            "trajectory": trajectory(self.outcome, self.run),
            "rejected": self.outcome.rejected,
            "directives": list(self.outcome.constraints.directives),
            "steps": self.outcome.steps,
            "dev_queries": self.outcome.queries,
            "search_calls": self.search_calls,
            "stopped": self.outcome.stopped,
            "usage": {role: asdict(usage) for role, usage in self.usage.items()},
            "in_flight": self.in_flight,
            "wall_time_s": self.wall_time_s,
            "config": self.config,
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
        }


def optimism(best_dev: EvalResult, best_test: EvalResult | None) -> dict[str, Any] | None:
    """Selection optimism: the answer's dev score (which chose it) against its test score."""
    if best_test is None:
        return None
    return {
        "dev": best_dev.mean,
        "test": best_test.mean,
        "dev_minus_test": best_dev.mean - best_test.mean,
    }


def trajectory(outcome: RunOutcome, run: str) -> list[dict[str, Any]]:
    """Every scored candidate as the report lists it, numbered as steering and the UI name them.

    ``rolled_back`` marks candidates that no longer count as best (the person
    rolled back to an earlier one); their scores are real and stay listed.
    ``memory_id`` is the candidate's record in the prompt memory (prompts with one
    text and different layouts are different records).
    """
    return [
        {
            "number": number,
            **TrajectoryEntry.of(scored).as_dict(),
            "rolled_back": number in outcome.rolled_back,
            "memory_id": prompt_id(run, scored.candidate.identity),
        }
        for number, scored in outcome.numbered()
    ]


def _test_calls(tested: tuple) -> int:
    return sum(result.usage.calls for result in tested[:2] if result is not None)


def build_report(
    session: RunSession, outcome: RunOutcome, tested: tuple, started: float
) -> OptimizeReport:
    """The report of a finished (or interrupted) search."""
    seed_test, best_test, difference = tested
    runtime, request = session.runtime, session.request
    return OptimizeReport(
        run=session.run,
        task=session.task.name,
        optimizer=request.optimizer,
        seed_prompt=request.prompt,
        best_prompt=outcome.answer.candidate.text,
        best_parts=outcome.answer.candidate.parts,
        guard=outcome.verdict,
        seed_dev=outcome.seed.dev,
        best_dev=outcome.answer.dev,
        seed_test=seed_test,
        best_test=best_test,
        test_difference=difference,
        outcome=outcome,
        usage={
            "task": session.context.evaluator.caller.usage.snapshot(),
            "optimizer": session.context.proposer.usage.snapshot(),
        },
        in_flight={
            "task": session.context.evaluator.caller.backend.limit.current,
            "optimizer": session.context.proposer.backend.limit.current,
        },
        wall_time_s=time.monotonic() - started,
        search_calls=session.search.calls - _test_calls(tested),
        diagnosis=explain_low_score(
            outcome.seed.dev,
            session.splits.get("train"),
            max_tokens=runtime.settings.task.max_tokens,
        ),
        config={
            **request.config(),
            "run": session.run,
            "task_model": runtime.settings.task.public(),
            "optimizer_model": runtime.settings.optimizer.public(),
            "splits": {k: len(session.splits.get(k)) for k in ("train", "dev", "test")},
            "embedder": session.embedder.name,
        },
    )


def compact_score(score: dict[str, Any] | None) -> dict[str, Any] | None:
    """A report's score entry (``EvalResult.to_dict``) as mean, 95% interval and n only."""
    read = Score.of(score)
    return None if read is None else read.compact()


def compact_difference(difference: dict[str, Any] | None) -> dict[str, Any] | None:
    """A report's paired difference (``asdict(PairedComparison)``), flattened."""
    read = Difference.of(difference)
    return None if read is None else read.compact()
