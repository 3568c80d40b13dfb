"""The textual-gradient baseline (ProTeGi, Pryzant et al. 2023) as an ask/tell optimizer.

One round, for every prompt in the beam:

1. run it on a random **train** minibatch and collect up to ``max_errors`` failures;
2. "gradient": ask the optimizer model why the prompt fails on them;
3. "edit": ask (``edits_per_gradient`` independent samples) for a prompt fixing
   those reasons, in ``<START>…<END>``; optionally paraphrase each edit.

Then **selection**, in two stages with different data on purpose:

- *UCB on train.* New candidates are arms of a UCB1 bandit whose pulls are
  evaluations on random train minibatches (cheap, and cached by the response
  cache). Only the ``select_per_round`` best by mean minibatch score are
  returned from :meth:`TextGrad.ask` (a round with no more new candidates
  than that proposes them all and spends no pulls).
- *Dev decides the beam.* The runner scores those on the full dev split and
  :meth:`TextGrad.tell` keeps the ``beam_width`` best dev scores seen so far.

So the optimizer only ever evaluates on train, dev stays the selection signal the
runner controls and counts against the budget, and test is never touched.

Small optimizer models often ignore formats: every reply is parsed with
:func:`~optimizers.propose.proposals.parse_proposal`, nothing here raises on a bad reply,
and every reply that yields no usable prompt is kept in :attr:`TextGrad.rejections`
with the reason. ``feedback="none"`` is the ablation of Melcer et al. (2025): a
plain rewrite that sees no errors and no critique, at the same budget.

The beam holds structured prompts: critiques and edits work on the instruction,
and an edit keeps the parent's output spec, demonstrations and layout. A round
with no usable draft proposes operator neighbours of the best prompt instead
(:mod:`optimizers.structure.fallback`), and after a round that did not beat the
beam's best they join the drafts, as in GPO.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from langchain_core.messages import HumanMessage

from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored, Share
from optimizers.evaluation.chat_calls import CallFailed
from optimizers.evaluation.evaluator import EvalResult
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.propose.proposals import constraints_block, parse_proposal
from optimizers.propose.rng_state import rng_state_from_json, rng_state_to_json
from optimizers.registry import TEXTGRAD
from optimizers.structure.fallback import operator_candidates
from optimizers.tasks.example import Example
from optimizers.textgrad.bandit import UCB1, run_ucb
from optimizers.textgrad.config import TextGradConfig
from optimizers.textgrad.prompts import (
    ShownError,
    edit_prompt,
    gradient_prompt,
    paraphrase_prompt,
    parse_critique,
    rewrite_prompt,
)

META_CRITIQUE_CHARS = 400
REPLY_CHARS = 300


@dataclass(frozen=True)
class Draft:
    """A parsed new instruction for ``parent``, before selection."""

    instruction: str
    parent: StructuredPrompt
    kind: str  # "edit", "rewrite" or "paraphrase"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> StructuredPrompt:
        """The parent with this instruction: its other parts are kept."""
        return self.parent.with_parts(TEXTGRAD, instruction=self.instruction)


def beam_prompt(item: dict[str, Any]) -> StructuredPrompt:
    """A beam entry of a checkpoint (one from before parts holds a plain text)."""
    parts = item.get("parts")
    return StructuredPrompt.from_parts(parts) if parts else StructuredPrompt.plain(item["text"])


@dataclass
class Expansion:
    """What expanding one beam prompt produced."""

    drafts: list[Draft] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    n_errors: int | None = None  # None with feedback="none"


def collect_errors(result: EvalResult, limit: int) -> list[ShownError]:
    """Up to ``limit`` failing examples of ``result`` (score below 1), worst first."""
    failing = [r for r in result.failures_first() if r.score < 1.0][:limit]
    return [
        ShownError(
            input=r.input,
            expected=r.targets[0] if r.targets else "",
            got=r.output if r.output or r.error is None else f"(no answer: {r.error})",
        )
        for r in failing
    ]


class TextGrad(Optimizer):
    """ProTeGi-style search: critique errors, edit, UCB-select on train, beam on dev."""

    name: ClassVar[str] = TEXTGRAD
    queries_per_step: ClassVar[int] = TextGradConfig().select_per_round
    schedule_ends_run: ClassVar[bool] = True

    def __init__(self, context: OptimizerContext, config: TextGradConfig | None = None) -> None:
        super().__init__(context)
        self.config = config or TextGradConfig()
        if not context.train:
            raise ValueError(
                "textgrad needs train examples (minibatches for errors and UCB), found none"
            )
        rounds = self.config.rounds if self.config.rounds is not None else context.total_steps
        if rounds < 1:
            raise ValueError(f"textgrad needs at least one round, found rounds={rounds}")
        self.rounds = rounds
        self.rng = random.Random(context.rng.getrandbits(64))
        self.beam: list[tuple[StructuredPrompt, float]] = []  # (prompt, dev score), best first
        self.known: dict[str, float] = {}  # prompt key -> dev score of everything told
        self.rejections: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []  # one summary per round
        self.stalled = False  # the last scores told did not beat the beam's best
        self._constraints = constraints_block(context.directives)

    # ------------------------------------------------------------------ ask / tell

    async def ask(self) -> list[Candidate]:
        """Run rounds until one yields candidates; ``[]`` once all rounds are spent.

        A round whose replies are all junk proposes nothing; the next round draws
        new minibatches and new samples, so it is not a repeat. The number of
        rounds bounds the work (and the calls) of one ``ask``.
        """
        share = self.context.allowance.for_ask()
        while self.step < self.rounds:
            self.step += 1
            candidates = await self._round(self.step, share)
            if candidates:
                if self.stalled:  # the last round did not move up: operators join in
                    half = max(1, self.config.select_per_round // 2)
                    candidates += self._operator_fallback(half, [c.key for c in candidates])
                return candidates
            if fallback := self._operator_fallback(self.config.select_per_round):
                return fallback
            if share.calls_left() < self._expansion_cost():
                break  # another round would overrun the budget: end this ask
        return []

    def _operator_fallback(self, count: int, also_exclude: Sequence[str] = ()) -> list[Candidate]:
        """Up to ``count`` operator neighbours of the best prompt (none when turned off).

        They draw from this optimizer's own generator, which checkpoints restore.
        """
        if not self.config.operator_fallback:
            return []
        parent = self.beam[0][0] if self.beam else self.context.seed_prompt
        return operator_candidates(
            self.context, parent, source=self.name, step=self.step,
            count=count, exclude=[*self.known, *also_exclude], rng=self.rng,
        )  # fmt: skip

    def tell(self, scored: Sequence[Scored]) -> None:
        """Remember dev scores and keep the ``beam_width`` best (earlier wins ties)."""
        if not scored:
            return
        best_before = self.beam[0][1] if self.beam else None
        pool = {parts.key: (parts, score) for parts, score in self.beam}
        for item in scored:
            self.known[item.candidate.key] = item.score
            pool.setdefault(item.candidate.key, (item.candidate.parts, item.score))
        ranked = sorted(pool.values(), key=lambda entry: -entry[1])
        self.beam = ranked[: self.config.beam_width]
        top = max(item.score for item in scored)
        self.stalled = best_before is not None and top <= best_before

    # ------------------------------------------------------------------ one round

    def _expansion_cost(self) -> int:
        """Calls one beam prompt's expansion pays at most: errors, critique, edits."""
        edits = self.config.edits_per_gradient * (2 if self.config.paraphrase else 1)
        if self.config.feedback == "errors":
            return self.config.minibatch_size + 1 + edits
        return edits

    async def _round(self, r: int, share: Share) -> list[Candidate]:
        parents = [parts for parts, _ in self.beam] or [
            StructuredPrompt.plain(self.context.seed_prompt)
        ]
        parents = parents[: share.calls_left() // self._expansion_cost()]
        if not parents:
            self.log.append({"round": r, "parents": 0, "skipped": "budget"})
            return []
        with_errors = self.config.feedback == "errors"
        # Draw every minibatch before anything runs concurrently: same seed, same run.
        batches = [
            self._minibatch(self.config.minibatch_size) if with_errors else None for _ in parents
        ]
        expansions = await asyncio.gather(
            *(
                self._expand(parent, batch, r)
                for parent, batch in zip(parents, batches, strict=True)
            )
        )
        drafts = self._screen(r, parents, expansions)
        pulls = min(
            self.config.ucb_pulls_per_arm * len(drafts), share.calls_left() // self.config.pull_size
        )
        worth_it = len(drafts) > self.config.select_per_round and pulls >= len(drafts)
        bandit = await self._select(drafts, pulls) if worth_it else None
        order = bandit.ranking() if bandit is not None else list(range(len(drafts)))
        chosen = order[: self.config.select_per_round]
        self.log.append(
            {
                "round": r,
                "parents": len(parents),
                "errors": [e.n_errors for e in expansions],
                "drafts": len(drafts),
                "pulls": bandit.total if bandit is not None else 0,
                "proposed": len(chosen),
            }
        )
        return [self._candidate(drafts[i], r, bandit, i) for i in chosen]

    def _screen(
        self, r: int, parents: Sequence[StructuredPrompt], expansions: Sequence[Expansion]
    ) -> list[Draft]:
        """Keep new, distinct drafts; record the rest (and the expansions' rejections)."""
        drafts: list[Draft] = []
        seen = set(self.known)
        for parent, expansion in zip(parents, expansions, strict=True):
            self.rejections.extend(expansion.rejections)
            for draft in expansion.drafts:
                key = draft.prompt.key
                if key == parent.key:
                    reason = "unchanged: same as its parent"
                    self._reject(r, draft.kind, parent.text, reason, draft.instruction)
                elif key in seen:
                    reason = "duplicate of a prompt already proposed or scored"
                    self._reject(r, draft.kind, parent.text, reason, draft.instruction)
                else:
                    seen.add(key)
                    drafts.append(draft)
        return drafts

    def _candidate(self, draft: Draft, r: int, bandit: UCB1 | None, arm: int) -> Candidate:
        parent = draft.parent.text
        meta = {"round": r, "kind": draft.kind, "parent": parent, **draft.meta}
        if bandit is not None:
            meta["ucb_mean"] = bandit.mean(arm)
            meta["ucb_pulls"] = bandit.counts[arm]
        return Candidate.structured(
            draft.prompt, source=self.name, step=r, parents=(parent,), meta=meta
        )

    async def _expand(
        self, parent: StructuredPrompt, batch: list[Example] | None, r: int
    ) -> Expansion:
        """Critique and edit one beam prompt's instruction, keeping its other parts.

        With feedback 'none' the instruction is just rewritten.
        """
        out = Expansion()
        meta: dict[str, Any] = {"feedback": self.config.feedback}
        instruction, where = parent.instruction, parent.text
        if batch is None:
            request, kind = rewrite_prompt(instruction, self._constraints), "rewrite"
        else:
            result = await self.context.evaluator.evaluate(parent, batch, split="train")
            errors = collect_errors(result, self.config.max_errors)
            out.n_errors = len(errors)
            if not errors:
                reason = f"skipped: no errors on {len(batch)} train examples"
                out.rejections.append(self._rejection(r, "gradient", where, reason))
                return out
            reply, failure = await self._complete(gradient_prompt(instruction, errors), sample=r)
            critique = parse_critique(reply or "")
            if not critique:
                reason = failure or "empty critique"
                out.rejections.append(
                    self._rejection(
                        r, "gradient", where, f"{reason}; editing from the errors alone", reply
                    )
                )
            request, kind = edit_prompt(instruction, errors, critique, self._constraints), "edit"
            meta |= {"critique": critique[:META_CRITIQUE_CHARS], "n_errors": len(errors)}
        edits = self.config.edits_per_gradient
        replies = await asyncio.gather(
            *(self._complete(request, sample=r * edits + i) for i in range(edits))
        )
        paraphrased: set[str] = set()
        for i, (reply, failure) in enumerate(replies):
            draft = self._parse(r, kind, parent, reply, failure, meta, out)
            if draft is None or not self.config.paraphrase or draft.instruction in paraphrased:
                continue
            paraphrased.add(draft.instruction)
            reply2, failure2 = await self._complete(
                paraphrase_prompt(draft.instruction, self._constraints), sample=r * edits + i
            )
            of = {"paraphrase_of": draft.instruction}
            self._parse(r, "paraphrase", parent, reply2, failure2, meta | of, out)
        return out

    def _parse(
        self,
        r: int,
        kind: str,
        parent: StructuredPrompt,
        reply: str | None,
        failure: str | None,
        meta: dict[str, Any],
        out: Expansion,
    ) -> Draft | None:
        """Turn one reply into a draft, or record why it is not one."""
        if reply is None:
            out.rejections.append(self._rejection(r, kind, parent.text, failure or "no reply"))
            return None
        parsed = parse_proposal(reply)
        if parsed.text is None:
            out.rejections.append(
                self._rejection(r, kind, parent.text, parsed.problem or "unparseable", reply)
            )
            return None
        draft = Draft(parsed.text, parent, kind, meta | {"parse_rule": parsed.rule})
        out.drafts.append(draft)
        return draft

    async def _select(self, drafts: Sequence[Draft], pulls: int) -> UCB1:
        """UCB1 over ``drafts`` with ``pulls`` train minibatches as pulls.

        The first sweep evaluates every draft on one shared minibatch (a paired,
        fair start); later pulls each draw a fresh one. With too few calls for a
        sweep the round skips the bandit and proposes drafts in generation order.
        """
        size = self.config.pull_size
        shared = self._minibatch(size)

        async def pull(arm: int, t: int) -> float:
            batch = shared if t < len(drafts) else self._minibatch(size)
            result = await self.context.evaluator.evaluate(drafts[arm].prompt, batch, split="train")
            return result.mean

        return await run_ucb(
            len(drafts),
            pull,
            total_pulls=pulls,
            c=self.config.ucb_c,
        )

    # ------------------------------------------------------------------ helpers

    def _minibatch(self, size: int) -> list[Example]:
        train = self.context.train
        return self.rng.sample(list(train), min(size, len(train)))

    async def _complete(self, text: str, *, sample: int) -> tuple[str | None, str | None]:
        """One optimizer-model call: ``(reply, None)`` or ``(None, why it failed)``.

        Exactly one call, never retried: a failed request costs its proposal only.
        An unusable endpoint (:class:`~optimizers.evaluation.chat_calls.EndpointError`)
        still stops the run.
        """
        try:
            completion = await self.context.proposer.complete([HumanMessage(text)], sample=sample)
        except CallFailed as exc:
            return None, f"call failed: {exc}"
        return completion.text, None

    @staticmethod
    def _rejection(
        r: int, stage: str, parent: str, reason: str, reply: str | None = None
    ) -> dict[str, Any]:
        return {
            "round": r,
            "stage": stage,
            "parent": parent,
            "reason": reason,
            "reply": (reply or "")[:REPLY_CHARS],
        }

    def _reject(self, r: int, stage: str, parent: str, reason: str, reply: str) -> None:
        self.rejections.append(self._rejection(r, stage, parent, reason, reply))

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Round (``step``), beam, known dev scores, rng state, rejections and round log."""
        return {
            "step": self.step,
            "beam": [{"parts": parts.parts(), "score": score} for parts, score in self.beam],
            "known": dict(self.known),
            "rng": rng_state_to_json(self.rng),
            "rejections": [dict(item) for item in self.rejections],
            "log": [dict(item) for item in self.log],
            "stalled": self.stalled,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (after a JSON round trip too)."""
        super().load_state_dict(state)
        self.beam = [(beam_prompt(item), float(item["score"])) for item in state["beam"]]
        self.known = {str(key): float(score) for key, score in state["known"].items()}
        rng_state_from_json(self.rng, state["rng"])
        self.rejections = [dict(item) for item in state["rejections"]]
        self.log = [dict(item) for item in state["log"]]
        self.stalled = bool(state.get("stalled", False))
