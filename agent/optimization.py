"""Headless optimization: one call from a request to a report with honest test numbers.

The search (any optimizer, inside :class:`~optimizers.runner.Runner`) sees train
and dev only. Test is touched exactly once, here, after the search has stopped:
the seed prompt and the best prompt are scored on it and compared, paired by
example. The report records the full configuration so the run can be repeated.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.outage import recording_failures
from agent.runtime import ModelRuntime
from agent.session import RunSession
from agent.step_checkpoint import checkpointed_search, register_run
from memory.embeddings import Embedder
from memory.prompt_store import prompt_id
from optimizers.base import Scored
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult
from optimizers.evaluation.stats import PairedComparison
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.evaluation.templates import parse_template
from optimizers.registry import GPO, optimizer_class
from optimizers.runner import Budget, EventFn, RunOutcome
from optimizers.selection.guard import GuardDecision
from optimizers.tasks import ColumnMapping, SplitSpec


@dataclass(frozen=True, kw_only=True)
class OptimizeRequest:
    """Everything that defines an optimization run (recorded in its report)."""

    data: str
    prompt: str
    optimizer: str = GPO
    budget: Budget = field(default_factory=Budget.default)
    metric: str = "exact"
    template: str = "inline"
    columns: ColumnMapping = field(default_factory=ColumnMapping)
    split_spec: SplitSpec = field(default_factory=SplitSpec)
    test_data: str | None = None
    seed: int = 0
    directives: tuple[str, ...] = ()
    racing: bool = True
    """Score new candidates on growing dev blocks and drop clear losers early."""

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("give the prompt to start from (--prompt)")
        if self.optimizer != "auto":
            optimizer_class(self.optimizer)  # fail fast on an unknown name

    def config(self) -> dict[str, Any]:
        """A JSON-ready record of the request."""
        return asdict(self)

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> OptimizeRequest:
        """Rebuild a request from :meth:`config` (how a run is resumed or repeated)."""
        fields = dict(data)
        fields["budget"] = Budget(**fields["budget"])
        fields["columns"] = ColumnMapping(**fields["columns"])
        fields["split_spec"] = SplitSpec(**fields["split_spec"])
        fields["directives"] = tuple(fields.get("directives", ()))
        fields.setdefault("racing", False)  # runs recorded before racing existed
        return cls(**fields)


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
            "wall_time_s": self.wall_time_s,
            "config": self.config,
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
            **trajectory_entry(scored),
            "rolled_back": number in outcome.rolled_back,
            "memory_id": prompt_id(run, scored.candidate.identity),
        }
        for number, scored in outcome.numbered()
    ]


def trajectory_entry(scored: Scored) -> dict[str, Any]:
    """One scored candidate's facts (without its number: see :func:`trajectory`)."""
    candidate = scored.candidate
    return {
        "step": candidate.step,
        "source": candidate.source,
        "prompt": candidate.text,
        "dev": scored.score,
        "ci95": [scored.dev.interval.low, scored.dev.interval.high],
        "reused": scored.reused,
        "complete": scored.complete,
        "examples": scored.dev.n,
        "parts": candidate.parts.parts(),
        "meta": candidate.meta,
    }


def new_run_id(request: OptimizeRequest) -> str:
    """Readable, sortable and unique: ``sentiment-gpo-20261121-071502-a1b2``.

    Named after the data file's stem (a task's default name), so the id needs
    no load of the data.
    """
    task = Path(request.data.removeprefix("builtin:")).stem
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{task}-{request.optimizer}-{stamp}-{secrets.token_hex(2)}"


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
        wall_time_s=time.monotonic() - started,
        search_calls=session.search.calls - _test_calls(tested),
        config={
            **request.config(),
            "run": session.run,
            "task_model": runtime.settings.task.public(),
            "optimizer_model": runtime.settings.optimizer.public(),
            "splits": {k: len(session.splits.get(k)) for k in ("train", "dev", "test")},
            "embedder": session.embedder.name,
        },
    )


async def run_optimize(
    request: OptimizeRequest,
    runtime: ModelRuntime,
    *,
    home: Path,
    run: str | None = None,
    embedder: Embedder | None = None,
    on_event: EventFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> OptimizeReport:
    """Search on train/dev with one optimizer, then report seed vs best on test.

    The run is checkpointed after every step; given the ``run`` id of a run that
    was killed or stopped by its endpoint, it continues from the last step.
    """
    started = time.monotonic()
    run = run or new_run_id(request)
    register_run(home, run, request)
    with recording_failures(home, run):
        session = RunSession.open(
            request, runtime, home=home, run=run, embedder=embedder,
            on_event=on_event, should_stop=should_stop,
        )  # fmt: skip
        try:
            outcome = await checkpointed_search(session, home)
            interrupted = outcome.stopped == "interrupted"
            tested = (None, None, None) if interrupted else await session.report()
        finally:
            session.close()
    return build_report(session, outcome, tested, started)
