from __future__ import annotations

from collections import Counter

import pytest

from optimizers.tasks import BUILTIN_TASKS, builtin_task_path, load_builtin_task

SIZES = {"review_sentiment": 100, "opposite_word": 60, "country_capital": 60, "word_count": 60}


def test_every_shipped_file_is_listed() -> None:
    folder = builtin_task_path("review_sentiment").parent
    assert {path.stem for path in folder.glob("*.jsonl")} == set(BUILTIN_TASKS) == set(SIZES)
    assert all(description.strip() for description in BUILTIN_TASKS.values())


@pytest.mark.parametrize("name", sorted(SIZES))
def test_builtin_task_loads(name: str) -> None:
    task = load_builtin_task(name)
    assert task.name == name
    assert len(task) == SIZES[name]
    inputs = [e.input for e in task.examples]
    assert len(set(inputs)) == len(inputs), "inputs must be unique"
    assert builtin_task_path(name).is_file()


def test_review_sentiment_is_balanced() -> None:
    task = load_builtin_task("review_sentiment")
    assert Counter(e.target for e in task.examples) == {"positive": 50, "negative": 50}
    assert all(e.targets == (e.target,) for e in task.examples)
    assert all(3 <= len(e.input.split()) <= 30 for e in task.examples)


def test_opposite_words_are_single_words() -> None:
    task = load_builtin_task("opposite_word")
    assert any(len(e.targets) > 1 for e in task.examples)
    for example in task.examples:
        assert example.input.isalpha()
        assert all(target.isalpha() for target in example.targets)
        assert example.input not in example.targets


def test_country_capital_targets() -> None:
    task = {e.input: e.targets for e in load_builtin_task("country_capital").examples}
    assert task["France"] == ("Paris",)
    assert "Kyiv" in task["Ukraine"]


def test_word_count_targets_are_correct() -> None:
    task = load_builtin_task("word_count")
    for example in task.examples:
        assert example.target.isdigit()
        assert int(example.target) == len(example.input.split())
        assert 3 <= int(example.target) <= 12
    assert len({e.target for e in task.examples}) == 10


def test_unknown_builtin_lists_the_names() -> None:
    with pytest.raises(ValueError, match="review_sentiment") as info:
        load_builtin_task("nope")
    assert all(name in str(info.value) for name in BUILTIN_TASKS)
    with pytest.raises(ValueError, match='unknown builtin task "nope"'):
        builtin_task_path("nope")
