"""Small example tasks shipped with PromptPilot, so a demo needs no data of its own.

The data were written for this project (not taken from a dataset); ``word_count``
was generated from a fixed seed and committed as is.
"""

from __future__ import annotations

from pathlib import Path

from optimizers.tasks.example import Task
from optimizers.tasks.loaders import load_task

BUILTIN_TASKS: dict[str, str] = {
    "review_sentiment": (
        "Classify a short product/restaurant/app/movie review as positive or negative "
        "(100 examples, some subtle or sarcastic)"
    ),
    "opposite_word": "Give the antonym of an English word (60 examples)",
    "country_capital": "Name the capital city of a country (60 examples)",
    "word_count": "Count the words in a short sentence, answering with digits (60 examples)",
}

_HERE = Path(__file__).resolve().parent


def builtin_task_path(name: str) -> Path:
    """Return the shipped JSONL file of builtin task ``name``."""
    if name not in BUILTIN_TASKS:
        known = ", ".join(sorted(BUILTIN_TASKS))
        raise ValueError(f'unknown builtin task "{name}"; the builtin tasks are: {known}')
    return _HERE / f"{name}.jsonl"


def load_builtin_task(name: str) -> Task:
    """Load builtin task ``name`` (``ValueError`` listing the names if it is unknown)."""
    return load_task(builtin_task_path(name), name=name)


__all__ = ["BUILTIN_TASKS", "builtin_task_path", "load_builtin_task"]
