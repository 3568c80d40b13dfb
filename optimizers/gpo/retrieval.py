"""GPO's update direction: which past prompts the meta-prompt shows, with their scores.

The paper compares three ways to pick ``k`` prompts from the trajectory and
finds *relevance* best: the current prompt first (as the reference code does),
then the ``k - 1`` earlier prompts most similar to it by cosine of their
embeddings. *Recency* takes the last ``k`` entries (newest first) and
*importance* the ``k`` best-scoring ones (best first, the newer on ties). Every
mode shows each distinct prompt once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, get_args

from memory.prompt_record import PromptRecord
from optimizers.base import prompt_key
from optimizers.gpo.trajectory import Trajectory

RetrievalMode = Literal["relevance", "recency", "importance"]
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)


def _distinct(records: Iterable[PromptRecord]) -> list[PromptRecord]:
    seen: dict[str, PromptRecord] = {}
    for record in records:
        seen.setdefault(prompt_key(record.text), record)
    return list(seen.values())


def by_recency(entries: Sequence[PromptRecord], k: int) -> list[PromptRecord]:
    """The last ``k`` distinct prompts, newest first."""
    return _distinct(reversed(entries))[:k]


def by_importance(entries: Sequence[PromptRecord], k: int) -> list[PromptRecord]:
    """The ``k`` best-scoring distinct prompts, best first (the newer wins a tie)."""
    newest_first = list(reversed(entries))
    ranked = sorted(newest_first, key=lambda record: -(record.dev_score or 0.0))
    return _distinct(ranked)[:k]


def by_relevance(trajectory: Trajectory, k: int) -> list[PromptRecord]:
    """The current prompt, then the ``k - 1`` earlier prompts most similar to it."""
    current = trajectory.current
    similar = trajectory.most_similar(current, k - 1)
    return [current, *(record for record, _ in similar)]


def retrieve(trajectory: Trajectory, mode: RetrievalMode, k: int) -> list[PromptRecord]:
    """The ``k`` trajectory prompts the next meta-prompt shows, in the order it shows them."""
    if k < 1:
        raise ValueError(f"k must be >= 1, found {k}")
    if mode == "relevance":
        return by_relevance(trajectory, k)
    if mode == "recency":
        return by_recency(trajectory.entries, k)
    if mode == "importance":
        return by_importance(trajectory.entries, k)
    raise ValueError(f"retrieval mode must be one of {RETRIEVAL_MODES}, found {mode!r}")
