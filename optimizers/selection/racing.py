"""Racing: score a candidate on growing blocks of dev, and stop once it is clearly worse.

Most candidates a search proposes are no better than what it has (on small models
most score 0). A full dev pass each would spend the budget on junk. As in CAPO
(Zehle et al. 2025) and GEPA's minibatch gate, a new candidate is scored on a first
small block of dev examples and continues on further blocks only while it is not
clearly worse than the incumbent *on the same examples* (paired):

- the blocks are prefixes of dev that double in size (5, 10, 20, … all of dev), so
  every candidate's examples are the incumbent's first ones, in the same order;
- after each block, with per-example differences ``d = candidate − incumbent``,
  ``D = Σd`` and ``S = sqrt(Σd²)``, the candidate is dropped when ``D < −z·S``
  (``z`` = 0.5 by default: for 0/1 scores ``S²`` counts the discordant examples, so
  this is a lenient sign test), or when it has scored 0 on every example so far
  (it cannot be better than anything yet, and a 0-scoring prompt is the common case).

A dropped candidate keeps its partial score; it never becomes the answer, which
needs all of dev (see :mod:`optimizers.selection.guard`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from optimizers.base import Candidate
from optimizers.evaluation.evaluator import EvalResult
from optimizers.tasks.example import Example


@dataclass(frozen=True, kw_only=True)
class RacingConfig:
    """How candidates are raced on dev."""

    first_block: int = 5
    """Dev examples every new candidate is scored on."""
    growth: float = 2.0
    """Each further block brings the examples seen to this multiple of the last."""
    z: float = 0.5
    """How far behind (in paired standard deviations) a candidate may fall before it is dropped."""

    def __post_init__(self) -> None:
        if isinstance(self.first_block, bool) or self.first_block < 1:
            raise ValueError(f"first_block must be an int >= 1, got {self.first_block!r}")
        if not self.growth > 1.0:
            raise ValueError(f"growth must be > 1, got {self.growth!r}")
        if not self.z >= 0.0:
            raise ValueError(f"z must be >= 0, got {self.z!r}")

    def stages(self, n: int) -> list[int]:
        """Prefix sizes of dev to score, ending with all ``n`` examples."""
        sizes, size = [], self.first_block
        while size < n:
            sizes.append(size)
            size = max(size + 1, math.ceil(size * self.growth))
        return [*sizes, n]


def drop_reason(
    candidate: Sequence[float],
    incumbent: Sequence[float],
    *,
    z: float,
    against: str = "the best prompt",
) -> str | None:
    """Why the candidate should stop racing on these paired scores, or None to go on.

    ``against`` names what ``incumbent`` scored, for the reason's wording.
    """
    if len(candidate) != len(incumbent) or not candidate:
        raise ValueError(
            f"racing compares paired scores: {len(candidate)} vs {len(incumbent)} examples"
        )
    diffs = [c - i for c, i in zip(candidate, incumbent, strict=True)]
    total = sum(diffs)
    spread = math.sqrt(sum(d * d for d in diffs))
    n = len(diffs)
    if not any(candidate):
        return f"scored 0 on the first {n} dev examples"
    if total < -z * spread:
        return f"behind {against} by {-total:.3g} on the same {n} dev examples"
    return None


async def race(
    candidates: Sequence[Candidate],
    dev: Sequence[Example],
    *,
    config: RacingConfig,
    incumbent: Sequence[float],
    evaluate: Callable[[Candidate, Sequence[Example]], Awaitable[EvalResult]],
    calls_left: Callable[[], int],
    halted: Callable[[], bool],
    raced: Callable[[Candidate, int, str | None], None],
    scoring: Callable[[int, int], None] = lambda index, examples: None,
) -> list[list[EvalResult]]:
    """Race the candidates on growing blocks of ``dev``; each one's results, block by block.

    After each block a candidate is dropped when it is clearly worse than the
    ``incumbent`` (its per-example scores on dev), or than the leader of this race, on
    the same examples; why goes in its ``meta["raced_out"]`` and to ``raced``
    (candidate, examples so far, reason or None). When ``calls_left()`` cannot give
    the next block to every candidate still racing, the ones ahead on the examples so
    far go on. ``halted()`` ends the race before any candidate's next block;
    ``scoring(index, examples)`` is told before each block (progress within a step).
    """
    parts: list[list[EvalResult]] = [[] for _ in candidates]

    def seen(i: int) -> list[float]:
        return [score for part in parts[i] for score in part.scores]

    alive, done, n = list(range(len(candidates))), 0, len(dev)
    for stage in config.stages(n):
        if halted():
            break
        affordable = calls_left() // (stage - done)
        if affordable < len(alive):
            ahead = sorted(alive, key=lambda i: -sum(seen(i)))  # stable: earlier on ties
            for i in ahead[affordable:]:
                candidates[i].meta["raced_out"] = "the call budget ran out"
            alive = sorted(ahead[:affordable])
        block = dev[done:stage]
        for i in alive:
            if halted():  # a person's "stop" or "try zopo" is not kept waiting for a whole block
                return parts
            scoring(i, stage)
            parts[i].append(await evaluate(candidates[i], block))
        done = stage
        if not alive:
            break
        leader = max(alive, key=lambda i: sum(seen(i)))
        survivors = []
        for i in alive:
            why = None if done == n else drop_reason(seen(i), incumbent[:done], z=config.z)
            if why is None and i != leader and done < n:
                why = drop_reason(seen(i), seen(leader), z=config.z, against="another candidate")
            raced(candidates[i], done, why)
            if why is None:
                survivors.append(i)
            else:
                candidates[i].meta["raced_out"] = why
        alive = survivors
    return parts
