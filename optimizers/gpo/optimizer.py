"""GPO as an ask/tell optimizer: retrieve a direction, generate within a step size, move.

One step (ALGORITHMS.md, GPO step 5): retrieve ``k`` prompts from the trajectory,
build the meta-prompt with the step size of this step, draw independent samples
from the optimizer model, parse each one leniently, measure its word-level edit
distance to the current prompt and reject those over budget (if all are over,
the closest one is kept and flagged). The runner scores what :meth:`GPO.ask`
returns; :meth:`GPO.tell` then moves to the best candidate *of this step*, even
when it is worse than an earlier prompt (the SGD-like move); the runner's
``RunOutcome.best`` remains the best of the whole trajectory.

When no sample of a step is usable (nothing parses, or every prompt is the
current one), ask() draws ``retries`` more batches. If those fail too, it
returns the current prompt itself: the runner reuses its score at no query
cost, the step counts, and the next step asks again with a new step size and
new sample indices. After ``give_up_after`` such steps in a row, or once the
``T = ctx.total_steps`` steps of the schedule are done, ask() returns ``[]``
(nothing left to try), so a run never loops on a broken optimizer model.

A small model's samples often parse and score nothing ("Here is your new prompt:"):
after a step that did not beat its start, the next one adds operator neighbours
(:mod:`optimizers.structure.fallback`) to the samples. GPO stands on a structured
prompt; samples rewrite its instruction (the edit budget's measure), the rest stays.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage

from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored, prompt_key
from optimizers.evaluation.chat_calls import CallFailed
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.gpo.config import GPOConfig
from optimizers.gpo.edit_distance import word_edit_distance
from optimizers.gpo.meta_prompt import build_meta_prompt, render_exemplar
from optimizers.gpo.retrieval import retrieve
from optimizers.gpo.step_size import step_size
from optimizers.gpo.trajectory import Trajectory
from optimizers.propose.proposals import parse_proposal
from optimizers.propose.rng_state import rng_state_from_json, rng_state_to_json
from optimizers.registry import GPO
from optimizers.structure.fallback import operator_candidates
from optimizers.tasks.example import Example

_PREVIEW_CHARS = 300


@dataclass(frozen=True)
class _Reply:
    """One sample of the optimizer model: its text, or why there is none."""

    sample: int
    text: str | None
    error: str | None = None


def _preview(text: str | None) -> str | None:
    if text is None or len(text) <= _PREVIEW_CHARS:
        return text
    return text[:_PREVIEW_CHARS] + " …"


class GPO(Optimizer):
    """Gradient-inspired prompt optimization (Tang et al., AAAI 2025).

    Inspect a run through ``trajectory`` (the prompts moved through, in Chroma),
    ``rejections`` (every sample not proposed, with the reason),
    ``last_meta_prompt`` and ``stopped`` (why ask() returned ``[]``).
    """

    name = GPO
    queries_per_step = GPOConfig().samples_per_step
    schedule_ends_run = True

    def __init__(self, context: OptimizerContext, config: GPOConfig | None = None) -> None:
        super().__init__(context)
        total = context.total_steps
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"GPO needs context.total_steps >= 1 (its T), found {total!r}")
        self.config = config or GPOConfig()
        self.trajectory = Trajectory.beside(context.store, task=context.task, run=context.run)
        self.exemplar_ids: list[str] | None = None  # chosen once, at the first ask
        self.rejections: list[dict[str, Any]] = []
        self.pending: set[str] = set()  # keys of the candidates of the last ask
        self.failed_steps = 0  # steps in a row that had no usable sample
        self.parts: StructuredPrompt | None = None  # the current prompt's parts
        self.stalled = False  # the last step did not beat the prompt it started from
        self.stopped: str | None = None
        self.last_meta_prompt: str | None = None

    # -- the schedule ------------------------------------------------------------------

    @property
    def current(self) -> str:
        """The prompt GPO stands on (the latest trajectory entry)."""
        return self.trajectory.current.text

    @property
    def current_parts(self) -> StructuredPrompt:
        """The current prompt's parts (plain when only its text is known)."""
        return self.parts or StructuredPrompt.plain(self.current)

    @property
    def instruction(self) -> str:
        """The current prompt's instruction: what the samples rewrite."""
        return self.current_parts.instruction

    def step_size(self) -> int:
        """How many words this step may change."""
        cfg = self.config
        return step_size(self.step, self.context.total_steps, s_max=cfg.s_max, s_min=cfg.s_min)

    # -- ask ---------------------------------------------------------------------------

    async def ask(self) -> list[Candidate]:
        """Sample, parse and screen proposals for the next step (``[]`` when done)."""
        if not self.trajectory.entries:
            raise RuntimeError("GPO.ask() needs the seed prompt's score first: tell() it")
        if self.stopped is not None:
            return []
        if self.step >= self.context.total_steps:
            self.stopped = f"schedule finished: {self.context.total_steps} steps"
            return []
        size = self.step_size()
        self.last_meta_prompt = self.meta_prompt(size)
        share = self.context.allowance.for_ask()
        for attempt in range(self.config.retries + 1):
            if not share.affords(self.config.samples_per_step):
                break  # sampling again would overrun the budget: operators cost no call
            replies = await self._sample(self.last_meta_prompt, attempt)
            candidates = self._screen(replies, size, attempt)
            if candidates:
                self.failed_steps = 0
                if self.stalled:  # the last step did not move up: operators join in
                    half = max(1, self.config.samples_per_step // 2)
                    candidates += self._neighbours(size, half, [c.key for c in candidates])
                self.pending = {candidate.key for candidate in candidates}
                return candidates
        return self._fallback(size)

    def meta_prompt(self, size: int) -> str:
        """The meta-prompt for the current state and step size ``size``."""
        direction = retrieve(self.trajectory, self.config.retrieval, self.config.k)
        template = self.context.evaluator.template
        exemplars = [
            render_exemplar(template, example, max_chars=self.config.max_exemplar_chars)
            for example in self.exemplars()
        ]
        return build_meta_prompt(
            direction=[(record.text, record.dev_score or 0.0) for record in direction],
            current=self.instruction,
            exemplars=exemplars,
            step_size=size,
            directives=self.context.directives,
        )

    def exemplars(self) -> list[Example]:
        """The fixed train exemplars, drawn once with ``context.rng``."""
        train = self.context.train
        if self.exemplar_ids is None:
            count = min(self.config.n_exemplars, len(train))
            self.exemplar_ids = [example.id for example in self.context.rng.sample(train, count)]
        by_id = {example.id: example for example in train}
        missing = [i for i in self.exemplar_ids if i not in by_id]
        if missing:
            raise ValueError(f"GPO exemplars {missing} are not in the train split")
        return [by_id[i] for i in self.exemplar_ids]

    async def _sample(self, meta_prompt: str, attempt: int) -> list[_Reply]:
        """Independent samples: distinct ``sample`` indices, so the cache keeps them apart."""
        n = self.config.samples_per_step
        first = (self.step * (self.config.retries + 1) + attempt) * n
        messages = [HumanMessage(content=meta_prompt)]

        async def one(i: int) -> _Reply:
            try:
                completion = await self.context.proposer.complete(messages, sample=first + i)
            except CallFailed as exc:
                return _Reply(i, None, f"call failed: {exc}")
            return _Reply(i, completion.text)

        return list(await asyncio.gather(*(one(i) for i in range(n))))

    def _screen(self, replies: Sequence[_Reply], size: int, attempt: int) -> list[Candidate]:
        """Parse, de-duplicate and budget-check the replies; record every rejection."""
        first_seen: dict[str, int] = {}
        within: list[Candidate] = []
        over: list[Candidate] = []
        for reply in replies:
            candidate = self._proposal(reply, size, attempt, first_seen)
            if candidate is not None:
                (over if candidate.meta["over_budget"] else within).append(candidate)
        return self._within_budget(within, over, replies, size, attempt)

    def _proposal(
        self, reply: _Reply, size: int, attempt: int, first_seen: dict[str, int]
    ) -> Candidate | None:
        """One reply as a candidate, or None with why recorded.

        Rejected: no reply, nothing parseable, the current prompt again, or a
        prompt an earlier sample of this step gave (``first_seen``: key -> sample).
        """
        current = self.instruction
        where = {"attempt": attempt, "sample": reply.sample, "reply": _preview(reply.text)}
        if reply.text is None:
            self._reject(where, reply.error or "no reply", rule="rejected")
            return None
        parsed = parse_proposal(reply.text)
        if parsed.text is None:
            self._reject(where, parsed.problem or "unparseable", rule=parsed.rule)
            return None
        key = prompt_key(parsed.text)
        if key == prompt_key(current):
            self._reject(
                where,
                "unchanged: same as the current prompt",
                rule=parsed.rule,
                text=parsed.text,
            )
            return None
        if key in first_seen:
            reason = f"duplicate of sample {first_seen[key]} in this step"
            self._reject(where, reason, rule=parsed.rule, text=parsed.text)
            return None
        first_seen[key] = reply.sample
        distance = word_edit_distance(parsed.text, current)
        return Candidate.structured(
            self.current_parts.with_parts(self.name, instruction=parsed.text),
            source=self.name,
            step=self.step + 1,
            parents=(self.current,),
            meta={
                "edit_distance": distance,
                "step_size": size,
                "over_budget": distance > size,
                "rule": parsed.rule,
                "sample": reply.sample,
                "attempt": attempt,
                "retrieval": self.config.retrieval,
            },
        )

    def _within_budget(
        self,
        within: list[Candidate],
        over: list[Candidate],
        replies: Sequence[_Reply],
        size: int,
        attempt: int,
    ) -> list[Candidate]:
        """The candidates within the edit budget; when none is, the closest one, flagged.

        The others over the budget are recorded as rejections.
        """
        kept = within
        if not within and over:
            closest = min(over, key=lambda candidate: candidate.meta["edit_distance"])
            note = f"closest of {len(over)} candidates, all over the budget of {size} words"
            kept = [dataclasses.replace(closest, meta={**closest.meta, "kept": note})]
            over = [candidate for candidate in over if candidate is not closest]
        previews = {reply.sample: _preview(reply.text) for reply in replies}
        for candidate in over:
            distance, sample = candidate.meta["edit_distance"], candidate.meta["sample"]
            self._reject(
                {"attempt": attempt, "sample": sample, "reply": previews[sample]},
                f"over budget: changes {distance} words, {size} allowed",
                rule=candidate.meta["rule"],
                text=candidate.text,
                edit_distance=distance,
            )
        return kept

    def _reject(self, where: dict[str, Any], reason: str, **details: Any) -> None:
        entry = {"step": self.step + 1, "step_size": self.step_size(), **where, "reason": reason}
        entry.setdefault("text", None)
        entry.update(details)
        self.rejections.append(entry)

    def _fallback(self, size: int) -> list[Candidate]:
        """No usable sample after the retries: operator neighbours, else stand still or give up.

        The neighbours need no optimizer model (:mod:`optimizers.structure.fallback`);
        their instruction edits stay within the step's edit budget.
        """
        self.failed_steps += 1
        if self.failed_steps >= self.config.give_up_after:
            self.stopped = f"no usable proposal in {self.failed_steps} steps in a row"
            self.pending = set()
            return []
        within = self._neighbours(size, self.config.samples_per_step, [])
        if within:
            self.pending = {candidate.key for candidate in within}
            return within
        candidate = Candidate.structured(
            self.current_parts,
            source=self.name,
            step=self.step + 1,
            parents=(self.current,),
            meta={
                "edit_distance": 0,
                "step_size": size,
                "over_budget": False,
                "rule": "fallback",
                "kept": "no usable proposal: the current prompt stays (its score is reused)",
            },
        )
        self.pending = {candidate.key}
        return [candidate]

    def _neighbours(self, size: int, count: int, exclude: list[str]) -> list[Candidate]:
        """Operator neighbours (no model) whose instruction edit fits ``size``; [] if off."""
        if not self.config.operator_fallback:
            return []
        neighbours = operator_candidates(
            self.context,
            self.current_parts,
            source=self.name,
            step=self.step + 1,
            count=count,
            exclude=exclude,
        )
        return [
            candidate
            for candidate in neighbours
            if word_edit_distance(candidate.parts.instruction, self.instruction) <= size
        ]

    # -- tell --------------------------------------------------------------------------

    def tell(self, scored: Sequence[Scored]) -> None:
        """Start from the seed, or move to the best candidate of the step just scored.

        Scores of candidates this optimizer did not ask for (the seed told again
        by a new runner after a resume) are ignored.
        """
        if not scored:
            return
        if not self.trajectory.entries:
            seed = next((s for s in scored if s.candidate.source == "seed"), scored[0])
            self.trajectory.append(
                seed.candidate.text, seed.score, step=0, source=seed.candidate.source
            )
            self.parts = seed.candidate.parts
            return
        mine = [s for s in scored if s.candidate.key in self.pending]
        if not mine:
            return
        best = max(mine, key=lambda s: s.score)  # the first sample wins a tie
        self.stalled = best.score <= (self.trajectory.current.dev_score or 0.0)
        self.parts = best.candidate.parts
        self.trajectory.append(
            best.candidate.text, best.score, step=self.step + 1, source=best.candidate.source
        )
        self.step += 1
        self.pending = set()

    # -- checkpoints -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a resumed GPO needs, as JSON.

        Step, current prompt, exemplar and trajectory ids, rejections, and the
        random stream the operator neighbours draw from.
        """
        return {
            **super().state_dict(),
            "current": self.current if self.trajectory.entries else None,
            "exemplar_ids": None if self.exemplar_ids is None else list(self.exemplar_ids),
            "trajectory_ids": self.trajectory.ids,
            "trajectory_collection": self.trajectory.store.collection_name,
            "rejections": [dict(entry) for entry in self.rejections],
            "pending": sorted(self.pending),
            "failed_steps": self.failed_steps,
            "stopped": self.stopped,
            "parts": None if self.parts is None else self.parts.parts(),
            "stalled": self.stalled,
            "rng": rng_state_to_json(self.context.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a run saved by :meth:`state_dict`; the trajectory is read back from Chroma."""
        expected = ("step", "current", "exemplar_ids", "trajectory_ids", "rejections")
        missing = [key for key in expected if key not in state]
        if missing:
            raise ValueError(f"GPO state is missing {missing}; found keys {sorted(state)}")
        super().load_state_dict(state)
        self.trajectory.load(state["trajectory_ids"])
        if self.trajectory.entries and state["current"] != self.current:
            raise ValueError(
                f"GPO state says the current prompt is {state['current']!r}, but its "
                f"trajectory ends at {self.current!r}"
            )
        ids = state["exemplar_ids"]
        self.exemplar_ids = None if ids is None else [str(i) for i in ids]
        self.rejections = [dict(entry) for entry in state["rejections"]]
        self.pending = set(state.get("pending", ()))
        self.failed_steps = int(state.get("failed_steps", 0))
        self.stopped = state.get("stopped")
        parts = state.get("parts")  # None in a checkpoint from before parts: plain
        self.parts = StructuredPrompt.from_parts(parts) if parts else None
        self.stalled = bool(state.get("stalled", False))
        if "rng" in state:  # absent in a checkpoint from before: the stream starts over
            rng_state_from_json(self.context.rng, state["rng"])
