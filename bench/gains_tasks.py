"""The tasks, splits and hand-written instructions of the gains benchmark (and its peers).

One definition for ``bench/gains.py`` and ``bench/peers/``: both run the same tasks on
the same splits, template and metric. The hand-written instructions were written
before any result was seen, as a person who reads a few examples would write them;
they are the yardstick the issue asks the default run to reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEAK_SEED = "Answer the question."


@dataclass(frozen=True)
class GainsTask:
    """One benchmark task: where its data is, how it is split, two hand-written prompts."""

    name: str
    path: Path
    train: int
    dev: int
    test: int
    hand_written: tuple[str, str]
    metric: str = "exact"


def _ii(name: str, *hand: str) -> GainsTask:
    path = SHARED / "instruction_induction" / "execute" / f"{name}.json"
    return GainsTask(name, path, train=20, dev=40, test=40, hand_written=(hand[0], hand[1]))


def _bbh(name: str, *hand: str) -> GainsTask:
    path = SHARED / "bbh" / f"{name}.json"
    return GainsTask(name, path, train=30, dev=40, test=100, hand_written=(hand[0], hand[1]))


TASKS: tuple[GainsTask, ...] = (
    _ii(
        "sentiment",
        "Classify the sentiment of the movie review. Answer with one word: positive or negative.",
        "Is this movie review positive or negative? Reply with only the word positive or negative.",
    ),
    _ii(
        "negation",
        "Rewrite the sentence so that it says the opposite, by adding the word 'not'. "
        "Output only the rewritten sentence.",
        "Negate the sentence. Keep every other word the same and output only the new sentence.",
    ),
    _ii(
        "antonyms",
        "Give the antonym of the word. Answer with one word only.",
        "Write a word that means the opposite of the given word. Output only that word.",
    ),
    _ii(
        "singular_to_plural",
        "Write the plural form of the noun. Answer with one word only.",
        "Turn the word into its plural. Output only the plural word.",
    ),
    _ii(
        "first_word_letter",
        "Write the first letter of the word. Answer with a single lowercase letter.",
        "What letter does the word start with? Reply with only that letter.",
    ),
    _ii(
        "sum",
        "Add the two numbers. Answer with the sum only, as digits.",
        "Compute the sum of the two numbers in the input. Output only the number.",
    ),
    _bbh(
        "sports_understanding",
        "Decide whether the sentence about sports is plausible. Answer with yes or no.",
        "Is the sentence plausible? Reply with only yes or no.",
    ),
    _bbh(
        "boolean_expressions",
        "Evaluate the boolean expression. Answer with True or False.",
        "Compute the value of the logical expression. Reply with only True or False.",
    ),
    _bbh(
        "navigate",
        "Follow the moves and decide whether you end at the starting point. Answer Yes or No.",
        "Do these instructions bring you back to where you started? Reply with only Yes or No.",
    ),
    _bbh(
        "web_of_lies",
        "Work out who tells the truth and answer the question with Yes or No.",
        "Decide whether the last person tells the truth. Reply with only Yes or No.",
    ),
)


def task_by_name(name: str) -> GainsTask:
    """The benchmark task called ``name``."""
    for task in TASKS:
        if task.name == name:
            return task
    raise KeyError(f"no gains task {name!r}; known: {', '.join(t.name for t in TASKS)}")
