"""The candidate domain: a growing, embedded set of prompts for ZOPO, APE and random search.

ZOPO searches a *finite* set of candidate prompts (docs ALGORITHMS.md, ZOPO step 1):
the seed, paraphrases of it and APE inductions from train demos, embedded once. The
same domain makes random search and APE honest yardsticks for ZOPO: at equal budget
they choose from the same candidates, so only the choosing differs. The domain grows:
candidates other optimizers or the user scored are added as they are told, and an
optimizer that has tried everything asks for more (APE samples and paraphrases of the
best so far).

:class:`~optimizers.propose.domain_optimizer.DomainOptimizer` is what the three
optimizers share; :mod:`~optimizers.propose.domain_config` holds the domain's settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.prompt_record import PromptRecord, prompt_id
from optimizers.base import Candidate, OptimizerContext, prompt_key
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.propose.domain_config import DomainConfig, domain_size_for
from optimizers.propose.generation import (
    GeneratedPrompt,
    Sampling,
    induce_instructions,
    paraphrase,
)
from optimizers.structure.operators import Moves, neighbours


@dataclass(frozen=True)
class DomainEntry:
    """One candidate: its id (stable across runs: a hash of the text), where it came from."""

    id: str
    text: str
    source: str
    parents: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    structure: StructuredPrompt | None = None

    @property
    def key(self) -> str:
        """Identity for de-duplication (as :attr:`optimizers.base.Candidate.key`)."""
        return self.structure.key if self.structure is not None else prompt_key(self.text)


def candidate_id(key: str) -> str:
    """Stable id of a prompt's key (whitespace-insensitive, like the runner's de-duplication)."""
    return "c-" + hashlib.sha256(prompt_key(key).encode()).hexdigest()[:16]


class CandidateDomain:
    """Prompts with their embeddings, in the order they were added; it only grows.

    Texts are de-duplicated like the runner does (:func:`optimizers.base.prompt_key`).
    ``next_sample`` is the first optimizer-model sample index not used yet, so that
    growing never asks a cached question again. ``log`` keeps every generated sample,
    kept or rejected, with why (in memory only).
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._entries: list[DomainEntry] = []
        self._by_key: dict[str, int] = {}
        self._rows: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self.built = False
        self.next_sample = 0
        self.log: list[GeneratedPrompt] = []

    # ------------------------------------------------------------------------ contents

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[DomainEntry]:
        return iter(list(self._entries))

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and prompt_key(text) in self._by_key

    @property
    def entries(self) -> list[DomainEntry]:
        """All entries, oldest first (a copy)."""
        return list(self._entries)

    @property
    def texts(self) -> list[str]:
        """All texts, oldest first."""
        return [entry.text for entry in self._entries]

    @property
    def embeddings(self) -> np.ndarray:
        """``(len, dim)`` float32 L2-normalised rows, in entry order."""
        if self._matrix is None or len(self._matrix) != len(self._rows):
            dim = self.embedder.dim
            self._matrix = np.stack(self._rows) if self._rows else np.zeros((0, dim), np.float32)
        return self._matrix

    def find(self, text: str) -> DomainEntry | None:
        """The entry with this text or key (whitespace-insensitive), or ``None``."""
        index = self._by_key.get(prompt_key(text))
        return None if index is None else self._entries[index]

    def add_structured(
        self, prompts: Sequence[StructuredPrompt], source: str, *, parent: str
    ) -> list[DomainEntry]:
        """Add structured prompts (operator moves); returns the new entries."""
        fresh: list[DomainEntry] = []
        for prompt in prompts:
            key = prompt.key
            if key in self._by_key or any(entry.key == key for entry in fresh):
                continue
            structure = None if prompt.is_plain else prompt
            notes = tuple(f"{part}: {op}" for part, op in prompt.origin.items())
            fresh.append(
                DomainEntry(candidate_id(key), prompt.text, source, (parent,), notes, structure)
            )
        return self._append(fresh)

    def _append(self, fresh: list[DomainEntry]) -> list[DomainEntry]:
        """Embed new entries once and add them in order."""
        if not fresh:
            return []
        vectors = np.asarray(self.embedder.embed([entry.text for entry in fresh]), np.float32)
        for entry, row in zip(fresh, vectors, strict=True):
            self._by_key[entry.key] = len(self._entries)
            self._entries.append(entry)
            self._rows.append(row)
        return fresh

    def add(
        self,
        texts: Sequence[str],
        source: str,
        *,
        parents: Sequence[tuple[str, ...]] | None = None,
        notes: Sequence[tuple[str, ...]] | None = None,
    ) -> list[DomainEntry]:
        """Add ``texts`` (from ``source``); returns the entries that were new.

        Known texts and blank ones are skipped; new texts are embedded here, once.
        """
        if isinstance(texts, str):
            raise TypeError("add() expects a sequence of prompt texts, found a single str")
        parents = list(parents) if parents is not None else [()] * len(texts)
        notes = list(notes) if notes is not None else [()] * len(texts)
        if len(parents) != len(texts) or len(notes) != len(texts):
            raise ValueError(
                f"expected one parents/notes tuple per text ({len(texts)}), "
                f"got {len(parents)} and {len(notes)}"
            )
        fresh: list[DomainEntry] = []
        keys: set[str] = set()
        for text, parent, note in zip(texts, parents, notes, strict=True):
            key = prompt_key(text)
            if not key or key in self._by_key or key in keys:
                continue
            keys.add(key)
            fresh.append(DomainEntry(candidate_id(text), text, source, tuple(parent), tuple(note)))
        return self._append(fresh)

    def add_generated(self, prompts: Sequence[GeneratedPrompt]) -> list[DomainEntry]:
        """Add kept generated prompts, with their source, parents and cleaning notes."""
        kept = [p for p in prompts if p.kept]
        added: list[DomainEntry] = []
        for source in dict.fromkeys(p.source for p in kept):
            group = [p for p in kept if p.source == source]
            added += self.add(
                [p.text for p in group],
                source,
                parents=[p.parents for p in group],
                notes=[p.notes for p in group],
            )
        return added

    def reserve_samples(self, count: int) -> int:
        """Reserve ``count`` optimizer-model sample indices; returns the first."""
        first = self.next_sample
        self.next_sample += count
        return first

    # ---------------------------------------------------------------------- generation

    async def build(self, context: OptimizerContext, config: DomainConfig) -> None:
        """Fill the domain once: the seed, APE inductions, paraphrases of the seed.

        The size counts the seed. Inductions come first, so "generation order" is APE's
        own order. A weak model yields fewer candidates than asked for (at most two
        calls per candidate are made), and so does a short budget; the domain can
        grow later.
        """
        if self.built:
            return
        size = config.size if config.size is not None else domain_size_for(context.total_steps)
        self.add([context.seed_prompt], "seed")
        # at most two calls per generated candidate, within the ask's share of the budget
        affordable = context.allowance.for_ask().calls_left() // 2
        wanted = max(0, min(size - len(self), affordable))
        n_para = round(wanted * config.paraphrase_share)
        await self.generate(
            context, n_ape=wanted - n_para, parents=[context.seed_prompt] * n_para, config=config
        )
        self.add_operator_moves(context, config.operators)
        self.built = True

    def add_operator_moves(self, context: OptimizerContext, count: int) -> list[DomainEntry]:
        """Up to ``count`` structured candidates around the seed, made with no optimizer model.

        The opening moves (output spec, demonstrations, layout) and neighbours of
        them, drawn with a stream of the context's rng.
        """
        if count <= 0 or not context.train:
            return []
        rng = random.Random(context.rng.getrandbits(64))
        moves = Moves(train=context.train)
        seed = StructuredPrompt.plain(context.seed_prompt)
        made = [prompt for prompt, _ in moves.opening(seed, rng)]
        for parent in list(made):
            if len(made) >= count:
                break
            near = neighbours(moves, parent, rng, count=2, exclude=[m.key for m in made])
            made += [prompt for prompt, _ in near]
        added = self.add_structured(made[:count], "operator", parent=context.seed_prompt)
        remember_unscored(context, added)
        return added

    async def grow(
        self, context: OptimizerContext, config: DomainConfig, best: Sequence[str] = ()
    ) -> list[DomainEntry]:
        """Add up to ``config.grow_by`` candidates: half paraphrases of ``best``, half APE."""
        n = config.grow_by
        n_para = n // 2 if best else 0
        parents = [best[i % len(best)] for i in range(n_para)] if best else []
        return await self.generate(context, n_ape=n - n_para, parents=parents, config=config)

    async def generate(
        self,
        context: OptimizerContext,
        *,
        n_ape: int,
        parents: Sequence[str],
        config: DomainConfig,
    ) -> list[DomainEntry]:
        """``n_ape`` inductions and one paraphrase per item of ``parents``; add what is kept.

        The samplers run concurrently.

        Each sampler gets its own ``random.Random`` drawn from the context's rng, so
        the requests do not depend on which replies arrive first.
        """
        jobs = []
        known = self.texts
        if n_ape > 0 and context.train:
            jobs.append(
                induce_instructions(
                    context.proposer,
                    context.train,
                    self._sampling(context, n_ape, known),
                    demos_per_prompt=config.demos_per_prompt,
                )
            )
        for parent, count in _counts(parents).items():
            jobs.append(paraphrase(context.proposer, parent, self._sampling(context, count, known)))
        results = await asyncio.gather(*jobs)
        added: list[DomainEntry] = []
        for prompts in results:  # job order, not arrival order: the domain stays reproducible
            added += self.add_generated(prompts)
        remember_unscored(context, added)
        return added

    def _sampling(self, context: OptimizerContext, n: int, known: Sequence[str]) -> Sampling:
        """How one sampler of :meth:`generate` asks for ``n`` prompts.

        Its own rng (drawn from the context's) and its own block of ``2 n`` sample
        indices; ``known`` texts count as duplicates; every sample goes to :attr:`log`.
        """
        rng = random.Random(context.rng.getrandbits(64))
        return Sampling(
            n=n,
            rng=rng,
            start_sample=self.reserve_samples(2 * n),
            directives=context.directives,
            exclude=known,
            log=self.log,
        )

    # --------------------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable contents (embeddings are recomputed on load)."""
        return {
            "embedder": self.embedder.name,
            "built": self.built,
            "next_sample": self.next_sample,
            "entries": [
                {
                    "text": e.text,
                    "source": e.source,
                    "parents": list(e.parents),
                    "notes": list(e.notes),
                    **({"parts": e.structure.parts()} if e.structure is not None else {}),
                }
                for e in self._entries
            ],
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace the contents with what :meth:`to_dict` saved (in place: sharers see it)."""
        if data.get("embedder") not in (None, self.embedder.name):
            raise ValueError(
                f"the saved domain was embedded with {data['embedder']!r}, "
                f"this one uses {self.embedder.name!r}"
            )
        entries = []
        for e in data["entries"]:
            structure = StructuredPrompt.from_parts(e["parts"]) if e.get("parts") else None
            key = structure.key if structure is not None else e["text"]
            entries.append(
                DomainEntry(
                    candidate_id(key),
                    e["text"],
                    e["source"],
                    tuple(e["parents"]),
                    tuple(e["notes"]),
                    structure,
                )
            )
        if len({entry.key for entry in entries}) != len(entries):
            raise ValueError("the saved domain holds duplicate texts")
        vectors = np.asarray(self.embedder.embed([entry.text for entry in entries]), np.float32)
        self._entries = entries
        self._by_key = {entry.key: i for i, entry in enumerate(entries)}
        self._rows = list(vectors) if entries else []
        self._matrix = None
        self.built = bool(data["built"])
        self.next_sample = int(data["next_sample"])

    @classmethod
    def from_dict(cls, data: dict[str, Any], embedder: Embedder) -> CandidateDomain:
        """A domain holding what :meth:`to_dict` saved."""
        domain = cls(embedder)
        domain.load_dict(data)
        return domain


def remember_unscored(context: OptimizerContext, entries: Sequence[DomainEntry]) -> None:
    """Put generated candidates in the prompt memory before any is scored.

    They are part of what the run has seen (the UI maps them, later runs can
    retrieve them); scoring one later fills in its dev score, step and source.
    """
    run = context.run
    records = []
    for entry in entries:
        candidate = Candidate(
            text=entry.text, source=entry.source, step=0, structure=entry.structure
        )
        records.append(
            PromptRecord(
                id=prompt_id(run, candidate.identity),
                text=entry.text,
                task=context.task,
                run=run,
                step=0,
                source=entry.source,
                parents=tuple(prompt_id(run, parent) for parent in entry.parents),
                parts=None if entry.structure is None else entry.structure.parts(),
            )
        )
    context.store.add(records)


def _counts(parents: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for parent in parents:
        counts[parent] = counts.get(parent, 0) + 1
    return counts
