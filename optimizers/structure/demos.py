"""Demonstrations: which labelled train examples a prompt shows, and how many.

Only train examples are ever shown (the callers get ``context.train``, never dev
or test). Choices are seeded: a label-balanced draw (so a classifier is not shown
one class only), the most typical examples (nearest the centroid of the train
inputs' embeddings), and single-demo edits (add, drop, swap). The number of
demonstrations is bounded by the space they take in the model's context.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np

from optimizers.evaluation.structured_prompt import Demo, demos_from
from optimizers.tasks.example import Example

MAX_DEMO_CHARS = 2400
"""Characters all demonstrations together may take: ~600 tokens, a third of a 2,048 context."""

Embed = Callable[[Sequence[str]], np.ndarray]


def fits(demos: Sequence[Demo], max_chars: int = MAX_DEMO_CHARS) -> bool:
    """Whether these demonstrations leave room in the context for the instruction and input."""
    return sum(len(demo.block()) + 2 for demo in demos) <= max_chars


def balanced(train: Sequence[Example], k: int, rng: random.Random) -> tuple[Demo, ...]:
    """Up to ``k`` train examples, taking each label in turn (random within a label)."""
    groups: dict[str, list[Example]] = {}
    for example in train:
        groups.setdefault(example.target.strip(), []).append(example)
    pools = [rng.sample(group, len(group)) for group in groups.values()]
    rng.shuffle(pools)
    picked: list[Example] = []
    while len(picked) < k and any(pools):
        for pool in pools:
            if pool and len(picked) < k:
                picked.append(pool.pop())
    rng.shuffle(picked)
    return demos_from(picked)


def typical(train: Sequence[Example], k: int, embed: Embed) -> tuple[Demo, ...]:
    """The ``k`` train examples whose inputs are nearest the centroid of all train inputs."""
    if not train:
        return ()
    vectors = np.asarray(embed([example.input for example in train]), np.float32)
    centroid = vectors.mean(axis=0)
    order = np.argsort(-(vectors @ centroid), kind="stable")[:k]
    return demos_from([train[int(i)] for i in order])


def unused(train: Sequence[Example], demos: Sequence[Demo]) -> list[Example]:
    """Train examples not shown yet."""
    shown = {demo.id for demo in demos}
    return [example for example in train if example.id not in shown]


def add_one(
    train: Sequence[Example], demos: tuple[Demo, ...], rng: random.Random
) -> tuple[Demo, ...] | None:
    """One more demonstration, preferring a label shown least so far."""
    free = unused(train, demos)
    if not free:
        return None
    shown = [demo.output for demo in demos]
    fewest = min(shown.count(example.target) for example in free)
    choice = rng.choice([e for e in free if shown.count(e.target) == fewest])
    return (*demos, *demos_from([choice]))


def drop_one(demos: tuple[Demo, ...], rng: random.Random) -> tuple[Demo, ...] | None:
    """The demonstrations without one of them."""
    if not demos:
        return None
    index = rng.randrange(len(demos))
    return demos[:index] + demos[index + 1 :]


def swap_one(
    train: Sequence[Example], demos: tuple[Demo, ...], rng: random.Random
) -> tuple[Demo, ...] | None:
    """One demonstration replaced by an unused train example with the same label if any."""
    free = unused(train, demos)
    if not demos or not free:
        return None
    index = rng.randrange(len(demos))
    same = [example for example in free if example.target == demos[index].output]
    choice = rng.choice(same or free)
    return demos[:index] + demos_from([choice]) + demos[index + 1 :]
