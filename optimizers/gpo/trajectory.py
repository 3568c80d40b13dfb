"""GPO's optimization trajectory, kept in its own Chroma collection.

One entry per step: the prompt GPO moved to at that step and its dev score, plus
the initial prompt at step 0. The runner already stores *every* scored
candidate in the main prompt collection (``ctx.store``); the trajectory is the
few of them GPO chose. It lives in a sibling collection on the same Chroma
client and embedder, named ``<main collection>-gpo-trajectory``, so that those
picks are not counted twice by readers of the main history (``scored(task)``).

An entry's id is ``<prompt id>@<step>``: a prompt chosen at two steps is two
entries. Similarity queries are restricted to this trajectory's own ids, so
entries left by an earlier run under the same run name never leak in.
"""

from __future__ import annotations

from collections.abc import Sequence

from memory.prompt_record import PromptRecord, prompt_id
from memory.prompt_store import PromptStore
from optimizers.base import prompt_key

TRAJECTORY_SUFFIX = "-gpo-trajectory"


def entry_id(run: str, text: str, step: int) -> str:
    """The id of the trajectory entry for ``text`` chosen at ``step`` of ``run``."""
    return f"{prompt_id(run, text)}@{step}"


def trajectory_store(main: PromptStore) -> PromptStore:
    """The collection beside ``main`` that holds GPO trajectories."""
    return main.sibling(main.collection_name + TRAJECTORY_SUFFIX)


class Trajectory:
    """The prompts a GPO run moved through, in step order, backed by Chroma."""

    def __init__(self, store: PromptStore, *, task: str, run: str) -> None:
        self.store = store
        self.task = task
        self.run = run
        self.entries: list[PromptRecord] = []  # stored records, with their embeddings

    @classmethod
    def beside(cls, main: PromptStore, *, task: str, run: str) -> Trajectory:
        """A trajectory in the sibling collection of the main prompt store."""
        return cls(trajectory_store(main), task=task, run=run)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def ids(self) -> list[str]:
        """Entry ids in step order (what a checkpoint stores)."""
        return [entry.id for entry in self.entries]

    @property
    def current(self) -> PromptRecord:
        """The latest entry: the prompt GPO stands on."""
        if not self.entries:
            raise LookupError("the trajectory is empty: the initial prompt has not been told yet")
        return self.entries[-1]

    def append(self, text: str, score: float, *, step: int, source: str) -> PromptRecord:
        """Record that GPO moved to ``text`` (dev ``score``) at ``step``; return the entry."""
        parents = (self.entries[-1].id,) if self.entries else ()
        record = PromptRecord(
            id=entry_id(self.run, text, step),
            text=text,
            task=self.task,
            run=self.run,
            step=step,
            source=source,
            parents=parents,
            dev_score=score,
        )
        stored = self.store.add([record])[0]
        self.entries.append(stored)
        return stored

    def load(self, ids: Sequence[str]) -> None:
        """Read the entries with these ids back from Chroma (resuming a run)."""
        entries = []
        for entry in ids:
            record = self.store.get(entry)
            if record is None:
                raise ValueError(
                    f"trajectory entry {entry!r} is not in Chroma collection "
                    f"{self.store.collection_name!r}; was the run saved with another prompt store?"
                )
            entries.append(record)
        self.entries = entries

    def most_similar(self, record: PromptRecord, n: int) -> list[tuple[PromptRecord, float]]:
        """The ``n`` entries most similar to ``record`` (cosine), one per distinct prompt.

        Entries with the same text as ``record`` are left out: they add no direction.
        """
        key = prompt_key(record.text)
        others = [entry.id for entry in self.entries if prompt_key(entry.text) != key]
        if n < 1 or not others:
            return []
        query = record.embedding if record.embedding is not None else record.text
        hits = self.store.nearest(query, k=len(others), ids=others)
        distinct: dict[str, tuple[PromptRecord, float]] = {}
        for hit, similarity in hits:
            distinct.setdefault(prompt_key(hit.text), (hit, similarity))
        return list(distinct.values())[:n]
