"""The search every optimizer runs in: propose, score on dev, tell, within a budget.

:class:`Search` owns what must be the same for every method so that comparisons
are fair: the dev evaluation, the budget (dev queries, paid LLM calls, time),
de-duplication (a prompt seen before reuses its score and costs no query), hard
constraints, recording every candidate in the prompt memory, and the event
stream that progress bars and the UI read. It runs one step at a time with any
optimizer, so an agent can switch methods mid-run, and it snapshots to JSON so
a killed run resumes where it stopped. :class:`~optimizers.runner.Runner` is the
plain loop of one optimizer on top of it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from memory.prompt_record import PromptRecord, prompt_id
from optimizers.base import NO_CALL_LIMIT, Allowance, Candidate, Optimizer, OptimizerContext, Scored
from optimizers.budget import Budget, StopReason
from optimizers.evaluation.evaluator import EvalResult, concat
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.events import (
    CandidateRejected,
    CandidateScored,
    EventFn,
    Raced,
    Scoring,
    StepDone,
    TrajectoryEntry,
)
from optimizers.outcome import RunOutcome
from optimizers.propose.constraints import Constraints
from optimizers.selection.racing import RacingConfig, race
from optimizers.tasks.example import Example

STALE_ROUNDS = 3  # rounds in a row that propose only prompts already scored


class Search:
    """One run's search: the seed, every scored candidate, and the budget spent.

    Optimizers are attached by name; before an optimizer asks, it is told every
    score it has not seen yet (including those other optimizers found), so a
    switch from GPO to ZOPO loses nothing.
    """

    def __init__(
        self,
        context: OptimizerContext,
        dev: Sequence[Example],
        budget: Budget,
        *,
        on_event: EventFn | None = None,
        should_stop: Callable[[], bool] | None = None,
        constraints: Constraints | None = None,
        racing: RacingConfig | None = None,
    ) -> None:
        """``racing`` None scores every candidate on all of dev (see :mod:`racing`)."""
        self.context = context
        self.racing = racing
        self.dev = tuple(dev)
        self.budget = budget
        self.on_event = on_event or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.constraints = constraints or Constraints(tuple(context.directives))
        self.scores: dict[str, EvalResult] = {}
        self.outcome: RunOutcome | None = None
        self.told: dict[str, int] = {}  # optimizer name -> history entries it has been told
        self._stale = 0
        self._clock = time.monotonic()
        self._seconds_before = 0.0  # spent in earlier processes (resumed runs)
        self._calls_before = 0  # likewise
        self._calls_at_start = self._usage_calls()
        self._cut = threading.Event()  # set from another thread: end the step going on now
        self.allowance = Allowance(self._calls_left, self._seconds_left)

    def interrupt(self) -> None:
        """End the step going on at the next candidate (a person's stop, pause or switch).

        Safe from any thread. What was scored is kept; nothing more is spent until
        :meth:`resume_steps`, which the planner calls once it has read the person's message.
        """
        self._cut.set()

    def resume_steps(self) -> None:
        """Let steps spend again after an :meth:`interrupt`."""
        self._cut.clear()

    @property
    def interrupted(self) -> bool:
        """True between :meth:`interrupt` and :meth:`resume_steps`."""
        return self._cut.is_set()

    def _usage_calls(self) -> int:
        return self.context.evaluator.caller.usage.calls + self.context.proposer.usage.calls

    @property
    def calls(self) -> int:
        """Paid LLM calls of this run, both models, across resumes."""
        return self._calls_before + self._usage_calls() - self._calls_at_start

    @property
    def seconds(self) -> float:
        """Wall time of this run, across resumes."""
        return self._seconds_before + time.monotonic() - self._clock

    def exhausted(self) -> StopReason | None:
        """Why no further step may run, or None."""
        budget, queries = self.budget, self.outcome.queries if self.outcome else 0
        if budget.max_queries is not None and queries >= budget.max_queries:
            return "budget: queries"
        if budget.max_calls is not None and self.calls >= budget.max_calls:
            return "budget: calls"
        if self.racing is not None and self._budget_calls_left() < self.racing.first_block:
            return "budget: calls"  # too few left to score anything: stop rather than spin
        if budget.max_seconds is not None and self.seconds >= budget.max_seconds:
            return "budget: time"
        if self.should_stop():
            return "stop requested"
        return None

    async def score(self, candidate: Candidate) -> Scored:
        """Score on dev (raced when racing is on), or reuse the score of the same prompt."""
        found = await self.score_all([candidate])
        if not found:
            raise RuntimeError("the budget left no call to score this candidate")
        return found[0]

    async def score_all(self, candidates: Sequence[Candidate]) -> list[Scored]:
        """Score a step's candidates on dev, together; known prompts reuse their score.

        Candidates the budget leaves unscored are left out (in order otherwise).
        """
        results: dict[int, Scored] = {}
        fresh: list[int] = []
        first: dict[str, int] = {}
        for index, candidate in enumerate(candidates):
            if candidate.key in self.scores or candidate.key in first:
                continue
            first[candidate.key] = index
            fresh.append(index)
        if self.budget.max_queries is not None and self.outcome is not None:
            fresh = fresh[: max(0, self.budget.max_queries - self.outcome.queries)]
        evaluated = await self._race_all([candidates[index] for index in fresh])
        for index, result in zip(fresh, evaluated, strict=True):
            if result is None:
                continue
            self.scores[candidates[index].key] = result
            if self.outcome is not None:
                self.outcome.queries += 1
            results[index] = Scored(candidates[index], result, complete=result.n == len(self.dev))
        for index, candidate in enumerate(candidates):
            known = self.scores.get(candidate.key)
            if index in results or known is None:
                continue
            complete = known.n == len(self.dev)
            results[index] = Scored(candidate, known, reused=True, complete=complete)
        return [results[index] for index in sorted(results)]

    async def _race_all(self, candidates: Sequence[Candidate]) -> list[EvalResult | None]:
        """Race the candidates on growing dev blocks (:func:`optimizers.selection.racing.race`).

        Without racing, each is scored on all of dev, the budget checked before each.
        """
        evaluate = self.context.evaluator.evaluate
        if self.racing is None or self.outcome is None:
            plain: list[EvalResult | None] = []
            for candidate in candidates:
                fits = self.exhausted() is None and not self.interrupted
                plain.append(
                    await evaluate(candidate.prompt, self.dev, split="dev") if fits else None
                )
            return plain
        parts = await race(
            candidates,
            self.dev,
            config=self.racing,
            incumbent=self.outcome.best.dev.scores,
            evaluate=lambda candidate, block: evaluate(candidate.prompt, block, split="dev"),
            calls_left=self._calls_left,
            halted=lambda: self.should_stop() or self._out_of_time() or self.interrupted,
            raced=self._raced,
            scoring=lambda index, examples: self.on_event(
                Scoring(
                    step=candidates[index].step, candidate=index + 1, candidates=len(candidates),
                    examples=examples, of=len(self.dev), prompt=candidates[index].text,
                )
            ),
        )  # fmt: skip
        seed = self.context.evaluator.bootstrap_seed
        return [concat(part, seed=seed) if part else None for part in parts]

    def _raced(self, candidate: Candidate, examples: int, dropped: str | None) -> None:
        self.on_event(
            Raced(
                step=candidate.step,
                examples=examples,
                of=len(self.dev),
                calls=self.calls,
                dropped=dropped,
            )
        )

    def _out_of_time(self) -> bool:
        limit = self.budget.max_seconds
        return limit is not None and self.seconds >= limit

    def _seconds_left(self) -> float:
        """Seconds the step may still spend (none while interrupted)."""
        limit = self.budget.max_seconds
        if self.interrupted:
            return 0.0
        return math.inf if limit is None else max(0.0, limit - self.seconds)

    def _calls_left(self) -> int:
        """Paid calls the step may still spend: the budget's, or none while interrupted.

        Every dev example costs at most one call, so racing never scores more
        examples than this and a call budget is kept exactly.
        """
        return 0 if self.interrupted else self._budget_calls_left()

    def _budget_calls_left(self) -> int:
        """Paid calls the budget still allows (a large number when calls are not limited)."""
        limit = self.budget.max_calls
        return NO_CALL_LIMIT if limit is None else max(0, limit - self.calls)

    async def start(self) -> RunOutcome:
        """Score the seed prompt (once)."""
        if self.outcome is None:
            seed = Candidate(text=self.context.seed_prompt, source="seed", step=0)
            self.outcome = RunOutcome(seed=await self.score(seed), constraints=self.constraints)
            self.outcome.queries = 1
            self._record([self.outcome.seed])
        return self.outcome

    async def step(self, optimizer: Optimizer) -> list[Scored] | None:
        """One ask → score → tell round; None when the optimizer has nothing left to try."""
        outcome = await self.start()
        unseen = outcome.history[self.told.get(optimizer.name, 0) :]
        if unseen:
            optimizer.tell(unseen)
        self.told[optimizer.name] = len(outcome.history)
        optimizer.context.allowance = self.allowance
        candidates = await optimizer.ask()
        if not candidates:
            outcome.stopped = "converged"
            outcome.stop_detail = str(getattr(optimizer, "stopped", "") or "")
            return None
        admitted: list[Candidate] = []
        for candidate in candidates:
            if violations := self.constraints.violations(candidate.text):
                self._reject(candidate, violations)
                continue
            admitted.append(candidate)
        scored = await self.score_all(admitted) if self.exhausted() is None else []
        self._record(scored)
        if scored:
            optimizer.tell(scored)
        self.told[optimizer.name] = len(outcome.history)
        outcome.steps += 1
        self._stale = self._stale + 1 if scored and all(s.reused for s in scored) else 0
        self.on_event(StepDone(step=outcome.steps, best=outcome.best.score, n=len(scored)))
        return scored

    @property
    def stuck(self) -> bool:
        """True after several rounds that proposed only prompts already scored.

        Re-proposing known prompts costs no query, so a query budget alone would
        never end an optimizer stuck on them.
        """
        return self._stale >= STALE_ROUNDS

    def _record(self, scored: Sequence[Scored]) -> None:
        assert self.outcome is not None
        for result in scored:
            self.outcome.history.append(result)
            self._emit_scored(result)
        run, task = self.context.run, self.context.task
        fresh = {s.candidate.key: s for s in scored if not s.reused}
        self.context.store.add(
            [
                PromptRecord(
                    id=prompt_id(run, s.candidate.identity),
                    text=s.candidate.text,
                    task=task,
                    run=run,
                    step=s.candidate.step,
                    source=s.candidate.source,
                    parents=tuple(prompt_id(run, p) for p in s.candidate.parents),
                    dev_score=s.score,
                    parts=None if s.candidate.structure is None else s.candidate.structure.parts(),
                )
                for s in fresh.values()
            ]
        )

    def _emit_scored(self, scored: Scored) -> None:
        assert self.outcome is not None
        self.on_event(
            CandidateScored(
                step=scored.candidate.step,
                number=len(self.outcome.history) - 1,
                entry=TrajectoryEntry.of(scored),
                queries=self.outcome.queries,
                calls=self.calls,
                best=self.outcome.best.score,
            )
        )

    def _reject(self, candidate: Candidate, violations: list[str]) -> None:
        assert self.outcome is not None
        entry = {"text": candidate.text, "source": candidate.source, "violations": violations}
        self.outcome.rejected.append(entry)
        self.on_event(
            CandidateRejected(
                step=candidate.step,
                text=candidate.text,
                source=candidate.source,
                violations=tuple(violations),
            )
        )

    def snapshot(self) -> dict[str, Any]:
        """The search as JSON: counters, the order of history (ids), who was told what.

        Texts and scores are not copied here: the prompts live in the prompt
        memory and the answers in the response cache, from which :meth:`restore`
        rebuilds the scores without a paid call.
        """
        outcome = self.outcome
        history = [] if outcome is None else outcome.history
        return {
            "history": [
                {
                    "id": prompt_id(self.context.run, s.candidate.identity),
                    "reused": s.reused,
                    "n": s.dev.n,
                }
                for s in history
            ],
            "sources": [[s.candidate.source, s.candidate.step] for s in history],
            "queries": 0 if outcome is None else outcome.queries,
            "steps": 0 if outcome is None else outcome.steps,
            "rejected": [] if outcome is None else outcome.rejected,
            "told": dict(self.told),
            "stale": self._stale,
            "calls": self.calls,
            "seconds": self.seconds,
            "directives": list(self.constraints.directives),
            "rolled_back": [] if outcome is None else sorted(outcome.rolled_back),
            "accepted": None if outcome is None else outcome.accepted,
        }

    async def restore(self, snapshot: dict[str, Any]) -> None:
        """Rebuild the search from :meth:`snapshot` (scores come from the response cache)."""
        self.constraints = Constraints(tuple(snapshot["directives"]))
        entries = []
        for item, (source, step) in zip(snapshot["history"], snapshot["sources"], strict=True):
            record = self.context.store.get(item["id"])
            if record is None:
                raise ValueError(f"prompt {item['id']} of run {self.context.run} is missing")
            structure = None if record.parts is None else StructuredPrompt.from_parts(record.parts)
            candidate = Candidate(text=record.text, source=source, step=step, structure=structure)
            if item["reused"]:
                known = self.scores[candidate.key]
                entries.append(
                    Scored(candidate, known, reused=True, complete=known.n == len(self.dev))
                )
                continue
            dev = self.dev[: item.get("n", len(self.dev))]  # raced-out: the blocks it was scored on
            result = await self.context.evaluator.evaluate(candidate.prompt, dev, split="dev")
            self.scores[candidate.key] = result
            entries.append(Scored(candidate, result, complete=result.n == len(self.dev)))
        if entries:
            self.outcome = RunOutcome(
                seed=entries[0], history=entries, constraints=self.constraints
            )
            self.outcome.queries = snapshot["queries"]
            self.outcome.steps = snapshot["steps"]
            self.outcome.rejected = list(snapshot["rejected"])
            self.outcome.rolled_back = set(snapshot.get("rolled_back", ()))  # older checkpoints
            self.outcome.accepted = snapshot.get("accepted")
        self.told = dict(snapshot["told"])
        self._stale = snapshot["stale"]
        self._calls_before = snapshot["calls"]
        self._calls_at_start = self._usage_calls()
        self._seconds_before = snapshot["seconds"]
        self._clock = time.monotonic()
