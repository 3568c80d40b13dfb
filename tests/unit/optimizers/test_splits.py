from __future__ import annotations

import dataclasses
import math

import pytest

from optimizers.tasks import Example, Splits, SplitSpec, Task, split_task


def make_task(n: int, name: str = "t", prefix: str = "row-") -> Task:
    examples = tuple(
        Example(id=f"{prefix}{i}", input=f"{name} input {i}", targets=(str(i),))
        for i in range(1, n + 1)
    )
    return Task(name=name, examples=examples)


def ids(examples: tuple[Example, ...]) -> list[str]:
    return [e.id for e in examples]


def sizes(splits: Splits) -> tuple[int, int, int]:
    return len(splits.train), len(splits.dev), len(splits.test)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (100, (20, 40, 40)),
        (10, (2, 4, 4)),
        (5, (1, 2, 2)),
        (3, (1, 1, 1)),
        (2, (0, 1, 1)),
        (0, (0, 0, 0)),
    ],
)
def test_default_sizes(n: int, expected: tuple[int, int, int]) -> None:
    assert sizes(split_task(make_task(n))) == expected


def test_counts_and_fractions_mix() -> None:
    spec = SplitSpec(train=5, dev=10, test=0.5)
    assert sizes(split_task(make_task(100), spec)) == (5, 10, 50)


def test_small_sets_get_one_example_per_nonzero_split() -> None:
    spec = SplitSpec(train=0.05, dev=0.05, test=0.9)
    assert sizes(split_task(make_task(4), spec)) == (1, 1, 2)
    assert sizes(split_task(make_task(3), SplitSpec(train=0.1, dev=0.1, test=0.1))) == (1, 1, 1)
    assert sizes(split_task(make_task(2), SplitSpec(train=0.1, dev=0.1, test=0.1))) == (0, 1, 1)


@pytest.mark.parametrize("n", range(31))
@pytest.mark.parametrize(
    "spec",
    [
        SplitSpec(),
        SplitSpec(train=0.1, dev=0.1, test=0.1),
        SplitSpec(train=0.5, dev=0.25, test=0.25),
        SplitSpec(train=0.3, dev=0.0, test=0.7),
    ],
)
def test_sizes_are_sane_for_any_size(n: int, spec: SplitSpec) -> None:
    got = sizes(split_task(make_task(n), spec))
    nonzero = [size > 0 for size in (spec.train, spec.dev, spec.test)]
    rounded = math.floor((spec.train + spec.dev + spec.test) * n + 0.5 + 1e-9)
    assert sum(got) == min(n, max(rounded, sum(nonzero)))
    if n >= sum(nonzero):
        assert all(count >= 1 for count, wanted in zip(got, nonzero, strict=True) if wanted)
    assert all(count == 0 for count, wanted in zip(got, nonzero, strict=True) if not wanted)


def test_disjoint_and_drawn_from_the_task() -> None:
    task = make_task(57)
    splits = split_task(task, SplitSpec(train=0.3, dev=0.3, test=0.4, seed=3))
    every = ids(splits.get("all"))
    assert len(every) == len(set(every)) == 57
    assert set(every) == set(ids(task.examples))


def test_deterministic_and_independent_of_file_order() -> None:
    task = make_task(40)
    shuffled = Task(name="t", examples=tuple(reversed(task.examples)))
    spec = SplitSpec(seed=7)
    assert split_task(task, spec) == split_task(task, spec)
    assert split_task(task, spec) == split_task(shuffled, spec)
    assert split_task(task, spec) != split_task(task, SplitSpec(seed=8))


def test_changing_train_size_keeps_dev_and_test() -> None:
    task = make_task(50)
    small = split_task(task, SplitSpec(train=5, dev=10, test=20))
    large = split_task(task, SplitSpec(train=15, dev=10, test=20))
    assert small.dev == large.dev
    assert small.test == large.test
    assert small.train == large.train[:5]


def test_get() -> None:
    splits = split_task(make_task(10))
    assert splits.get("train") == splits.train
    assert splits.get("dev") == splits.dev
    assert splits.get("test") == splits.test
    assert splits.get("all") == splits.train + splits.dev + splits.test
    with pytest.raises(ValueError, match="train, dev, test, all"):
        splits.get("validation")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"train": -1}, "negative"),
        ({"dev": 1.5}, "between 0 and 1"),
        ({"test": -0.1}, "between 0 and 1"),
        ({"train": True}, "int count or a float"),
        ({"train": "10"}, "int count or a float"),
        ({"seed": 1.0}, "seed"),
    ],
)
def test_spec_rejects_bad_values(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        SplitSpec(**kwargs)  # type: ignore[arg-type]


def test_fractions_summing_over_one() -> None:
    with pytest.raises(ValueError, match=r"sum to 1\.2"):
        split_task(make_task(10), SplitSpec(train=0.4, dev=0.4, test=0.4))


def test_sizes_exceeding_the_data() -> None:
    with pytest.raises(ValueError, match=r"need 12 examples but task \"t\" has only 10"):
        split_task(make_task(10), SplitSpec(train=2, dev=5, test=5))
    with pytest.raises(ValueError, match="has only 10"):
        split_task(make_task(10), SplitSpec(train=3, dev=0.5, test=0.5))


def test_duplicate_ids_are_refused() -> None:
    task = make_task(3)
    twin = dataclasses.replace(task.examples[0], input="other")
    with pytest.raises(ValueError, match='id "row-1"'):
        split_task(Task(name="t", examples=(*task.examples, twin)))


def test_separate_test_task() -> None:
    task = make_task(20, name="train")
    held_out = make_task(6, name="held")
    splits = split_task(task, SplitSpec(train=0.5, dev=0.5, test=0.9), test_task=held_out)
    assert sizes(splits) == (10, 10, 6)
    assert [e.input for e in splits.test] == [e.input for e in held_out.examples]
    # ids collide ("row-1" in both files), so the held-out ids are made distinct
    assert ids(splits.test) == [f"test:row-{i}" for i in range(1, 7)]
    assert len(set(ids(splits.get("all")))) == 26


def test_separate_test_task_keeps_distinct_ids_and_blocks_leaks() -> None:
    task = make_task(10, name="t")
    leaked = task.examples[0]
    held_out = Task(
        name="held",
        examples=(
            Example(id="h-1", input=leaked.input, targets=("x",)),
            *make_task(2, "h", "h-x").examples,
        ),
    )
    splits = split_task(task, SplitSpec(train=3, dev=6, test=0), test_task=held_out)
    assert ids(splits.test) == ["h-1", "h-x1", "h-x2"]
    assert leaked not in splits.train + splits.dev
    assert sizes(splits) == (3, 6, 3)
    with pytest.raises(ValueError, match="has only 9"):
        split_task(task, SplitSpec(train=5, dev=5), test_task=held_out)
