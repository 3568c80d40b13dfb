"""The loop every optimizer runs in: propose, score on dev, tell, within a budget.

The runner owns what must be the same for every method so that comparisons
are fair: the dev evaluation, the budget (dev queries, paid LLM calls, time),
de-duplication (a prompt seen before reuses its score and costs no query),
recording every candidate in the prompt memory, and the event stream that
progress bars and the UI read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from memory.prompt_store import PromptRecord, prompt_id
from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored
from optimizers.constraints import Constraints
from optimizers.evaluation.evaluator import EvalResult
from optimizers.tasks.example import Example

StopReason = Literal[
    "budget: queries",
    "budget: calls",
    "budget: time",
    "converged",
    "no new candidates",
    "stop requested",
    "interrupted",
]

STALE_ROUNDS = 3  # rounds in a row that propose only prompts already scored


@dataclass(frozen=True, kw_only=True)
class Budget:
    """Limits on a run; ``None`` means unlimited. At least one must be set.

    A *query* is one dev evaluation of a prompt not scored before (ZOPO's unit).
    *Calls* are paid LLM calls of both models together; cache hits are free.
    """

    max_queries: int | None = 30
    max_calls: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        limits = (self.max_queries, self.max_calls, self.max_seconds)
        if all(limit is None for limit in limits):
            raise ValueError("a budget needs at least one limit (queries, calls or seconds)")
        if any(limit is not None and limit <= 0 for limit in limits):
            raise ValueError(f"budget limits must be positive, got {self}")


@dataclass(frozen=True)
class RunEvent:
    """Something that happened in a run, for progress displays and logs."""

    kind: str  # "scored", "step", "stopped"
    step: int
    data: dict[str, Any]


EventFn = Callable[[RunEvent], None]


@dataclass
class RunOutcome:
    """What a run found, in the order it found it."""

    seed: Scored
    history: list[Scored] = field(default_factory=list)  # every scored candidate, seed first
    constraints: Constraints = field(default_factory=Constraints)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # broke a hard constraint
    steps: int = 0
    queries: int = 0
    stopped: StopReason = "converged"
    stop_detail: str = ""  # the optimizer's own reason, when it has one
    wall_time_s: float = 0.0

    @property
    def best(self) -> Scored:
        """The best dev score among prompts that meet every hard constraint (earliest wins).

        Constraints can be added while a run goes on, so admissibility is checked
        now, against the current ones. When nothing qualifies, the seed is the answer.
        """
        allowed = [s for s in self.history if not self.constraints.violations(s.candidate.text)]
        return max(allowed or [self.seed], key=lambda scored: scored.score)


class Runner:
    """Runs one optimizer against the dev split under a budget."""

    def __init__(
        self,
        optimizer: Optimizer,
        context: OptimizerContext,
        dev: Sequence[Example],
        budget: Budget,
        *,
        on_event: EventFn | None = None,
        should_stop: Callable[[], bool] | None = None,
        constraints: Constraints | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.constraints = constraints or Constraints(tuple(context.directives))
        self.context = context
        self.dev = tuple(dev)
        self.budget = budget
        self.on_event = on_event or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.scores: dict[str, EvalResult] = {}
        self._started = 0.0
        self._calls_before = 0

    def _calls(self) -> int:
        return self.context.evaluator.caller.usage.calls + self.context.proposer.usage.calls

    def _exhausted(self, outcome: RunOutcome) -> StopReason | None:
        budget = self.budget
        if budget.max_queries is not None and outcome.queries >= budget.max_queries:
            return "budget: queries"
        if budget.max_calls is not None and self._calls() - self._calls_before >= budget.max_calls:
            return "budget: calls"
        elapsed = time.monotonic() - self._started
        if budget.max_seconds is not None and elapsed >= budget.max_seconds:
            return "budget: time"
        if self.should_stop():
            return "stop requested"
        return None

    async def score(self, candidate: Candidate, outcome: RunOutcome | None) -> Scored:
        """Score on dev, or reuse the score of the same prompt seen earlier."""
        if (known := self.scores.get(candidate.key)) is not None:
            return Scored(candidate, known, reused=True)
        result = await self.context.evaluator.evaluate(candidate.text, self.dev, split="dev")
        self.scores[candidate.key] = result
        if outcome is not None:
            outcome.queries += 1
        return Scored(candidate, result)

    def _remember(self, scored: Sequence[Scored]) -> None:
        run, task = self.context.run, self.context.task
        fresh = {s.candidate.key: s for s in scored if not s.reused}
        self.context.store.add(
            [
                PromptRecord(
                    id=prompt_id(run, s.candidate.text),
                    text=s.candidate.text,
                    task=task,
                    run=run,
                    step=s.candidate.step,
                    source=s.candidate.source,
                    parents=tuple(prompt_id(run, p) for p in s.candidate.parents),
                    dev_score=s.score,
                )
                for s in fresh.values()
            ]
        )

    def _emit_scored(self, scored: Scored, outcome: RunOutcome) -> None:
        self.on_event(
            RunEvent(
                "scored",
                scored.candidate.step,
                {
                    "text": scored.candidate.text,
                    "source": scored.candidate.source,
                    "dev": scored.score,
                    "ci95": [scored.dev.interval.low, scored.dev.interval.high],
                    "reused": scored.reused,
                    "queries": outcome.queries,
                    "calls": self._calls() - self._calls_before,
                    "best": outcome.best.score,
                    "meta": scored.candidate.meta,
                },
            )
        )

    def _reject(self, candidate: Candidate, violations: list[str], outcome: RunOutcome) -> None:
        entry = {"text": candidate.text, "source": candidate.source, "violations": violations}
        outcome.rejected.append(entry)
        self.on_event(RunEvent("rejected", candidate.step, entry))

    async def run(self) -> RunOutcome:
        """Score the seed prompt, then alternate ask → score → tell until a limit."""
        self._started = time.monotonic()
        self._calls_before = self._calls()
        seed = Candidate(text=self.context.seed_prompt, source="seed", step=0)
        outcome = RunOutcome(seed=await self.score(seed, None), constraints=self.constraints)
        outcome.queries = 1
        outcome.history.append(outcome.seed)
        self._remember([outcome.seed])
        self._emit_scored(outcome.seed, outcome)
        self.optimizer.tell([outcome.seed])
        try:
            await self._loop(outcome)
        except (asyncio.CancelledError, KeyboardInterrupt):
            outcome.stopped = "interrupted"
        outcome.wall_time_s = time.monotonic() - self._started
        self.on_event(RunEvent("stopped", outcome.steps, {"reason": outcome.stopped}))
        return outcome

    async def _loop(self, outcome: RunOutcome) -> None:
        stale = 0
        while (reason := self._exhausted(outcome)) is None:
            candidates = await self.optimizer.ask()
            if not candidates:
                outcome.stopped = "converged"
                outcome.stop_detail = str(getattr(self.optimizer, "stopped", "") or "")
                return
            scored: list[Scored] = []
            for candidate in candidates:
                if (reason := self._exhausted(outcome)) is not None:
                    break
                if violations := self.constraints.violations(candidate.text):
                    self._reject(candidate, violations, outcome)
                    continue
                result = await self.score(candidate, outcome)
                scored.append(result)
                outcome.history.append(result)
                self._emit_scored(result, outcome)
            self._remember(scored)
            if scored:
                self.optimizer.tell(scored)
            outcome.steps += 1
            self.on_event(
                RunEvent("step", outcome.steps, {"best": outcome.best.score, "n": len(scored)})
            )
            if reason is not None:
                break
            # Re-proposing known prompts costs no query, so a query budget alone would
            # never end an optimizer stuck on them.
            stale = stale + 1 if scored and all(s.reused for s in scored) else 0
            if stale >= STALE_ROUNDS:
                reason = "no new candidates"
                break
        outcome.stopped = reason if reason is not None else outcome.stopped
