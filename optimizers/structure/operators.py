"""Moves in the space of structured prompts, none of which needs an optimizer model.

Each operator takes a prompt and returns a neighbour (or None when it does not
apply): an output spec read from the train targets, demonstrations added,
dropped or swapped, another layout, a GrIPS phrase edit of the instruction.
They are deterministic given the ``random.Random`` they are handed. The
:class:`Moves` object holds what they read (train examples, clauses, embeddings)
so that one search builds it once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.structure import demos as demo_ops
from optimizers.structure import phrases
from optimizers.structure.output_spec import spec_clauses
from optimizers.tasks.example import Example

Move = tuple[StructuredPrompt, str]  # a neighbour and the operator that made it
Operator = Callable[["Moves", StructuredPrompt, random.Random], StructuredPrompt | None]


@dataclass
class Moves:
    """The operators over one task's train split."""

    train: tuple[Example, ...]
    embed: demo_ops.Embed | None = None
    max_demo_chars: int = demo_ops.MAX_DEMO_CHARS
    clauses: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.clauses = spec_clauses(self.train)

    # -------------------------------------------------------------- first moves

    def opening(self, seed: StructuredPrompt, rng: random.Random) -> list[Move]:
        """What a person would try first: say what to answer, show examples, both.

        Ordered by how often each helped on small models: the most specific
        output spec, then spec + a few label-balanced demonstrations, then other
        specs and demonstration counts, then the chat layout of demonstrations.
        """
        moves: list[Move] = []
        specs = [c for c in self.clauses if c != seed.output_spec][:3]
        best_spec = specs[0] if specs else seed.output_spec
        four = self._demos(4, rng)
        two = self._demos(2, rng)
        if specs:
            moves.append((seed.with_parts("spec", output_spec=best_spec), "spec"))
        if four:
            moves.append((seed.with_parts("demos", output_spec=best_spec, demos=four), "demos"))
            moves.append((seed.with_parts("demos", output_spec=best_spec, demos=two), "demos"))
        moves += [(seed.with_parts("spec", output_spec=clause), "spec") for clause in specs[1:]]
        if four:
            moves.append((seed.with_parts("demos", demos=four), "demos"))
            chat = seed.with_parts("layout", output_spec=best_spec, demos=four, layout="chat")
            moves.append((chat, "layout"))
            if self.embed is not None:
                typical = demo_ops.typical(self.train, 4, self.embed)
                if demo_ops.fits(typical, self.max_demo_chars):
                    moves.append(
                        (seed.with_parts("demos", output_spec=best_spec, demos=typical), "demos")
                    )
        unique: dict[str, Move] = {}
        for move in moves:  # few demos fit: the 4- and 2-demo moves can be one prompt
            unique.setdefault(move[0].key, move)
        return [move for key, move in unique.items() if key != seed.key]

    def _demos(self, k: int, rng: random.Random) -> tuple:
        chosen = demo_ops.balanced(self.train, k, rng)
        while chosen and not demo_ops.fits(chosen, self.max_demo_chars):
            chosen = chosen[:-1]
        return chosen

    # -------------------------------------------------------------- local moves

    def neighbour(self, prompt: StructuredPrompt, name: str, rng: random.Random) -> Move | None:
        """One application of operator ``name`` to ``prompt`` (None when it does not apply)."""
        made = OPERATORS[name](self, prompt, rng)
        if made is None or made.key == prompt.key:
            return None
        if not demo_ops.fits(made.demos, self.max_demo_chars):
            return None
        return made, name


def _spec(moves: Moves, prompt: StructuredPrompt, rng: random.Random) -> StructuredPrompt | None:
    options = [c for c in moves.clauses if c != prompt.output_spec]
    options += [""] if prompt.output_spec else []
    return prompt.with_parts("spec", output_spec=rng.choice(options)) if options else None


def _demo_edit(edit: Callable[..., tuple | None]) -> Operator:
    def apply(moves: Moves, prompt: StructuredPrompt, rng: random.Random):
        demos = edit(moves.train, prompt.demos, rng)
        if demos is None:
            return None
        if not demos and prompt.layout == "chat":  # no demonstrations left to show as turns
            return prompt.with_parts("demos", demos=demos, layout=None)
        return prompt.with_parts("demos", demos=demos)

    return apply


def _layout(moves: Moves, prompt: StructuredPrompt, rng: random.Random) -> StructuredPrompt | None:
    options: list = [layout for layout in (None, "system") if layout != prompt.layout]
    if prompt.demos and prompt.layout != "chat":
        options.append("chat")
    return prompt.with_parts("layout", layout=rng.choice(options)) if options else None


def _phrase(edit: Callable[..., str | None]) -> Operator:
    def apply(moves: Moves, prompt: StructuredPrompt, rng: random.Random):
        text = edit(prompt.instruction, rng)
        return None if not text else prompt.with_parts(f"phrase_{edit.__name__}", instruction=text)

    return apply


OPERATORS: dict[str, Operator] = {
    "spec": _spec,
    "demo_add": _demo_edit(demo_ops.add_one),
    "demo_drop": _demo_edit(lambda train, demos, rng: demo_ops.drop_one(demos, rng)),
    "demo_swap": _demo_edit(demo_ops.swap_one),
    "layout": _layout,
    **{f"phrase_{name}": _phrase(edit) for name, edit in phrases.EDITS.items()},
}


def neighbours(
    moves: Moves,
    prompt: StructuredPrompt,
    rng: random.Random,
    *,
    count: int,
    weights: dict[str, float] | None = None,
    exclude: Sequence[str] = (),
) -> list[Move]:
    """Up to ``count`` distinct neighbours of ``prompt``, operators drawn by ``weights``."""
    names = list(OPERATORS)
    odds = [max(1e-3, (weights or {}).get(name, 1.0)) for name in names]
    seen = set(exclude) | {prompt.key}
    found: list[Move] = []
    for _ in range(count * 8):
        if len(found) >= count:
            break
        name = rng.choices(names, weights=odds)[0]
        move = moves.neighbour(prompt, name, rng)
        if move is not None and move[0].key not in seen:
            seen.add(move[0].key)
            found.append(move)
    return found
