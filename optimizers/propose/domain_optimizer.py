"""What ZOPO, APE and random search share: picking candidates from one candidate domain.

The domain is built lazily, the dev scores told so far are remembered by prompt, and
the state is JSON for resuming a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored, prompt_key
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.propose.domain import CandidateDomain, DomainEntry
from optimizers.propose.domain_config import DomainConfig
from optimizers.propose.rng_state import rng_state_from_json, rng_state_to_json


class DomainOptimizer(Optimizer):
    """An optimizer that picks candidates from a :class:`CandidateDomain`.

    The domain is built on the first :meth:`ask` (the seed's score, told before, is kept
    until then). Pass one ``domain`` to several optimizers to compare them on the same
    candidates; by default each builds its own. Every told score is remembered by
    prompt, so nothing scored is proposed again, whoever scored it.
    """

    def __init__(
        self,
        context: OptimizerContext,
        *,
        domain_config: DomainConfig,
        domain: CandidateDomain | None = None,
    ) -> None:
        super().__init__(context)
        self.domain_config = domain_config
        self.domain = domain if domain is not None else CandidateDomain(context.embedder)
        self.scores: dict[str, float] = {}  # candidate key -> dev score, in arrival order
        self._texts: dict[str, str] = {}  # key -> text as told
        self._structures: dict[str, StructuredPrompt] = {}  # key -> parts, when structured
        self._origins: dict[str, tuple[str, tuple[str, ...]]] = {}  # key -> (source, parents)

    async def ensure_domain(self) -> None:
        """Build the domain if nobody has yet; add the told prompts it lacks."""
        await self.domain.build(self.context, self.domain_config)
        self._absorb_told()

    def _absorb_told(self) -> None:
        """Prompts scored elsewhere (other optimizers, the user) join the domain."""
        missing = [key for key in self.scores if self.domain.find(key) is None]
        for key in missing:
            source, parents = self._origins[key]
            if key in self._structures:
                parent = parents[0] if parents else self.context.seed_prompt
                self.domain.add_structured([self._structures[key]], source, parent=parent)
            else:
                self.domain.add([self._texts[key]], source, parents=[parents])

    def unscored(self) -> list[DomainEntry]:
        """Domain entries without a dev score, in domain order."""
        return [entry for entry in self.domain if entry.key not in self.scores]

    def ranked(self) -> list[tuple[str, float]]:
        """``(text, score)`` of everything told, best first (earliest on ties)."""
        order = sorted(self.scores.items(), key=lambda kv: -kv[1])
        return [(self._texts[key], score) for key, score in order]

    async def grow(self, best: int = 3) -> list[DomainEntry]:
        """Add candidates once everything is scored (paraphrases of the ``best`` top texts)."""
        return await self.domain.grow(
            self.context, self.domain_config, [text for text, _ in self.ranked()[:best]]
        )

    def candidate(self, entry: DomainEntry, source: str, **meta: Any) -> Candidate:
        """The :class:`Candidate` for ``entry``, chosen by ``source`` at this step."""
        return Candidate(
            text=entry.text,
            structure=entry.structure,
            source=source,
            step=self.step,
            parents=entry.parents,
            meta={
                "origin": entry.source,
                "domain_id": entry.id,
                "notes": list(entry.notes),
                **meta,
            },
        )

    def tell(self, scored: Sequence[Scored]) -> None:
        """Remember every score (the seed's and other optimizers' too)."""
        for item in scored:
            key = item.candidate.key
            self.scores[key] = float(item.score)
            self._texts.setdefault(key, item.candidate.text)
            self._origins.setdefault(key, (item.candidate.source, item.candidate.parents))
            if item.candidate.structure is not None:
                self._structures.setdefault(key, item.candidate.structure)
        if self.domain.built:
            self._absorb_told()

    def state_dict(self) -> dict[str, Any]:
        """Step, rng, domain and scores: what a resumed run needs to ask the same things."""
        return {
            **super().state_dict(),
            "rng": rng_state_to_json(self.context.rng),
            "domain": self.domain.to_dict(),
            "scores": [
                [
                    self._texts[key],
                    score,
                    self._origins[key][0],
                    list(self._origins[key][1]),
                    self._structures[key].parts() if key in self._structures else None,
                ]
                for key, score in self.scores.items()
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (the domain is re-embedded)."""
        super().load_state_dict(state)
        rng_state_from_json(self.context.rng, state["rng"])
        self.domain.load_dict(state["domain"])
        self.scores, self._texts, self._origins, self._structures = {}, {}, {}, {}
        for text, score, source, parents, *rest in state["scores"]:
            score = float(score)
            if not math.isfinite(score):
                raise ValueError(f"saved score of {text!r} is not finite: {score}")
            parts = rest[0] if rest else None  # older checkpoints have no parts
            key = prompt_key(text)
            if parts is not None:
                structure = StructuredPrompt.from_parts(parts)
                key = structure.key
                self._structures[key] = structure
            self.scores[key] = score
            self._texts[key] = text
            self._origins[key] = (str(source), tuple(parents))
