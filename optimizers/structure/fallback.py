"""What LLM-based optimizers propose when every proposal of their optimizer model is rejected.

A small or failing optimizer endpoint returns junk ("Here is your new prompt:"),
and a step with nothing usable used to stand still. Instead, the step falls back on
the operators that need no optimizer model: neighbours of the current prompt (an
output spec, demonstrations, phrase edits…), scored like any proposal.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from optimizers.base import Candidate, OptimizerContext
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.structure.operators import Moves, neighbours


def operator_candidates(
    context: OptimizerContext,
    current: str | StructuredPrompt,
    *,
    source: str,
    step: int,
    count: int,
    exclude: Iterable[str] = (),
    rng: random.Random | None = None,
) -> list[Candidate]:
    """Up to ``count`` operator neighbours of ``current`` (a text or parts), new to ``exclude``."""
    parts = StructuredPrompt.plain(current) if isinstance(current, str) else current
    moves = Moves(train=context.train)
    found = neighbours(
        moves,
        parts,
        rng or context.rng,
        count=count,
        exclude=list(exclude),
    )
    return [
        Candidate.structured(
            prompt,
            source=source,
            step=step,
            parents=(parts.text,),
            meta={"operator": operator, "rule": "fallback: operators (no usable proposal)"},
        )
        for prompt, operator in found
    ]
