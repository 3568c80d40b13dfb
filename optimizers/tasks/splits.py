"""Deterministic train/dev/test splits of a task.

Examples are sorted by id and shuffled with ``random.Random(seed)``, so a split
depends only on the ids, the sizes and the seed — not on file order or hash seeds.
Test is cut from the end of the shuffled order and dev just before it, so changing
the train size never changes which examples are in dev or test.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from dataclasses import dataclass

from optimizers.tasks.example import Example, Task

SPLIT_NAMES = ("train", "dev", "test")
_TOLERANCE = 1e-9


@dataclass(frozen=True, kw_only=True)
class SplitSpec:
    """Split sizes: an ``int`` is a count, a ``float`` a fraction of the task."""

    train: int | float = 0.2
    dev: int | float = 0.4
    test: int | float = 0.4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in SPLIT_NAMES:
            size = getattr(self, name)
            if isinstance(size, bool) or not isinstance(size, int | float):
                raise ValueError(
                    f"SplitSpec.{name} must be an int count or a float fraction, got {size!r}"
                )
            if isinstance(size, float):
                if not math.isfinite(size) or not 0.0 <= size <= 1.0:
                    raise ValueError(
                        f"SplitSpec.{name} fraction must be between 0 and 1, got {size}"
                    )
            elif size < 0:
                raise ValueError(f"SplitSpec.{name} must not be negative, got {size}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"SplitSpec.seed must be an int, got {self.seed!r}")


@dataclass(frozen=True)
class Splits:
    """Disjoint train/dev/test examples."""

    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]

    def get(self, name: str) -> tuple[Example, ...]:
        """Return the examples of split ``name``: "train", "dev", "test" or "all" (all three)."""
        if name == "all":
            return self.train + self.dev + self.test
        if name in SPLIT_NAMES:
            return getattr(self, name)
        raise ValueError(f'unknown split "{name}"; expected one of: train, dev, test, all')


def split_task(
    task: Task, spec: SplitSpec = SplitSpec(), *, test_task: Task | None = None
) -> Splits:
    """Split ``task`` into train/dev/test as ``spec`` says.

    With ``test_task`` (a separate held-out file) test is all of it and ``spec.test``
    is ignored; train/dev are drawn from ``task``, leaving out any example whose input
    also appears in ``test_task`` so nothing held out leaks into optimization. If ids
    of the two files collide, the test ids are prefixed with ``test:`` to keep ids
    unique across the splits.
    """
    _check_unique_ids(task)
    if test_task is None:
        order = _shuffled(task.examples, spec.seed)
        sizes = _sizes(len(order), spec, ("train", "dev", "test"), task.name)
        train, dev, test = sizes
        test_part = tuple(order[len(order) - test :]) if test else ()
        dev_part = tuple(order[len(order) - test - dev : len(order) - test]) if dev else ()
        return Splits(train=tuple(order[:train]), dev=dev_part, test=test_part)

    _check_unique_ids(test_task)
    if not test_task.examples:
        raise ValueError(f'the test task "{test_task.name}" has no examples')
    held_out = {example.input for example in test_task.examples}
    pool = [example for example in task.examples if example.input not in held_out]
    order = _shuffled(pool, spec.seed)
    train, dev = _sizes(len(order), spec, ("train", "dev"), task.name)
    test = test_task.examples
    ids = {example.id for example in pool}
    if any(example.id in ids for example in test):
        test = tuple(dataclasses.replace(example, id=f"test:{example.id}") for example in test)
    return Splits(
        train=tuple(order[:train]),
        dev=tuple(order[len(order) - dev :]) if dev else (),
        test=tuple(test),
    )


def _check_unique_ids(task: Task) -> None:
    seen: set[str] = set()
    for example in task.examples:
        if example.id in seen:
            raise ValueError(
                f'task "{task.name}" has two examples with id "{example.id}"; ids must be unique'
            )
        seen.add(example.id)


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort ``row-2`` before ``row-10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def _shuffled(examples: tuple[Example, ...] | list[Example], seed: int) -> list[Example]:
    order = sorted(examples, key=lambda example: (_natural_key(example.id), example.id))
    random.Random(seed).shuffle(order)
    return order


def _sizes(total: int, spec: SplitSpec, names: tuple[str, ...], task_name: str) -> list[int]:
    """Count per split: fractions rounded so each non-zero fraction gets ≥1 where possible."""
    requested = {name: getattr(spec, name) for name in names}
    asked = ", ".join(f"{name}={requested[name]}" for name in names)
    share = sum(size for size in requested.values() if isinstance(size, float))
    if share > 1.0 + _TOLERANCE:
        raise ValueError(f"split fractions ({asked}) sum to {share:g}; they must sum to at most 1")
    counts = {name: size for name, size in requested.items() if isinstance(size, int)}
    fractional = {name: size * total for name, size in requested.items() if isinstance(size, float)}
    fixed = sum(counts.values())
    budget = math.floor(sum(fractional.values()) + 0.5 + _TOLERANCE)
    if fixed + budget > total:
        raise ValueError(
            f'the split sizes ({asked}) need {fixed + budget} examples but task "{task_name}" '
            f"has only {total}"
        )
    # Each non-zero fraction gets at least one example if the data has room for it.
    wanted = sum(1 for raw in fractional.values() if raw > 0)
    budget = min(total - fixed, max(budget, wanted))
    alloc = {
        name: (max(1, math.floor(raw + _TOLERANCE)) if raw > 0 else 0)
        for name, raw in fractional.items()
    }
    while sum(alloc.values()) < budget:  # largest remainder gets the next example
        name = max(alloc, key=lambda n: (fractional[n] - alloc[n], -names.index(n)))
        alloc[name] += 1
    while sum(alloc.values()) > budget:  # most over-served (train first on ties) gives one back
        donors = [n for n in alloc if alloc[n] > 1] or [n for n in alloc if alloc[n] > 0]
        name = max(donors, key=lambda n: (alloc[n] - fractional[n], -names.index(n)))
        alloc[name] -= 1
    counts.update(alloc)
    return [counts[name] for name in names]
