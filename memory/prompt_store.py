"""The prompt store: every prompt PromptPilot has seen, in a Chroma collection.

Optimizers ask three things of their history: which past prompts are close to
this one (``nearest``), which prompts of a task have a score to learn from
(``scored``), and how a run got where it is (``trajectory``). One record per
``(run, text)`` answers all three; its vector comes from an :class:`Embedder`
and is stored with it, so nothing is re-embedded on read and Chroma's own
(downloading) default embedding function is never used.

The collection uses cosine distance and records the embedder's name and size:
vectors of different embedders are not comparable, so opening a collection with
another embedder is an error rather than silently wrong neighbours.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.chroma_client import (
    CLIENTS_LOCK,
    chroma_settings,
    close_client,
    collection_space,
    opening,
    parse_url,
)
from memory.embeddings import Embedder
from memory.prompt_record import (
    PromptRecord,
    check_score,
    column,
    metadata_of,
    record_of,
    where_clause,
)

SPACE = "cosine"
_EMBEDDER_KEY = "embedder"
_DIM_KEY = "embedder_dim"
_INCLUDE_RECORD = ["documents", "metadatas", "embeddings"]


class PromptStore:
    """Prompts, their scores and their vectors in one Chroma collection.

    Writes are serialised by a lock, so one store can be shared by threads.
    """

    def __init__(self, client: Any, embedder: Embedder, *, collection: str = "prompts") -> None:
        self._client = client
        self._embedder = embedder
        self._lock = threading.RLock()
        self._last_seq = 0
        self._owns_client = False
        self._collection = self._open(collection)

    @classmethod
    def embedded(
        cls, path: str | Path, embedder: Embedder, *, collection: str = "prompts"
    ) -> PromptStore:
        """Open a store in a local folder (``chromadb.PersistentClient``)."""
        import chromadb

        _ = embedder.dim  # load the model before the lock: the others wait less
        with opening(Path(path)):
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings())
            return cls._owning(client, embedder, collection)

    @classmethod
    def remote(cls, url: str, embedder: Embedder, *, collection: str = "prompts") -> PromptStore:
        """Open a store on a Chroma server (``chroma run``), e.g. ``http://127.0.0.1:8000``."""
        import chromadb

        host, port, ssl = parse_url(url)
        with CLIENTS_LOCK:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings())
        return cls._owning(client, embedder, collection)

    @classmethod
    def _owning(cls, client: Any, embedder: Embedder, collection: str) -> PromptStore:
        """Make a store that closes ``client`` with itself (and at once if opening fails)."""
        try:
            store = cls(client, embedder, collection=collection)
        except BaseException:
            close_client(client)
            raise
        store._owns_client = True
        return store

    def close(self) -> None:
        """Release the Chroma client if this store made it (files, connections)."""
        if self._owns_client:
            self._owns_client = False
            close_client(self._client)

    def __enter__(self) -> PromptStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sibling(self, collection: str) -> PromptStore:
        """Open another collection on the same Chroma client, with the same embedder.

        For records that must not mix with the main prompt history (GPO keeps its
        trajectory in one). The sibling shares the client but does not own it:
        closing this store closes both, closing the sibling does nothing.
        """
        if collection == self.collection_name:
            raise ValueError(f"a sibling needs another collection than {collection!r}")
        return PromptStore(self._client, self._embedder, collection=collection)

    @property
    def embedder(self) -> Embedder:
        """The embedder every vector in this store came from."""
        return self._embedder

    @property
    def collection_name(self) -> str:
        """The Chroma collection this store reads and writes."""
        return str(self._collection.name)

    def _open(self, name: str) -> Any:
        from chromadb.errors import NotFoundError

        wanted = {_EMBEDDER_KEY: self._embedder.name, _DIM_KEY: int(self._embedder.dim)}
        try:
            collection = self._client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            # get_or_create: another process may have created it in the meantime.
            collection = self._client.get_or_create_collection(
                name,
                configuration={"hnsw": {"space": SPACE}},
                metadata=wanted,
                embedding_function=None,
            )
        found = dict(collection.metadata or {})
        if found.get(_EMBEDDER_KEY) is None:
            raise ValueError(
                f"Chroma collection {name!r} was not made by PromptStore: its metadata "
                f"has no {_EMBEDDER_KEY!r} entry (found {found})"
            )
        if (found.get(_EMBEDDER_KEY), found.get(_DIM_KEY)) != tuple(wanted.values()):
            raise ValueError(
                f"Chroma collection {name!r} holds vectors of embedder "
                f"{found.get(_EMBEDDER_KEY)!r} (dim {found.get(_DIM_KEY)}), but this store "
                f"was opened with {self._embedder.name!r} (dim {self._embedder.dim}); "
                "use the same embedder or another collection"
            )
        space = collection_space(collection)
        if space != SPACE:
            raise ValueError(
                f"Chroma collection {name!r} uses {space!r} distance; PromptStore needs {SPACE!r}"
            )
        return collection

    def _next_seq(self) -> int:
        """Return the next insertion number: nanoseconds, strictly increasing in the process."""
        self._last_seq = max(time.time_ns(), self._last_seq + 1)
        return self._last_seq

    def add(self, records: Sequence[PromptRecord]) -> list[PromptRecord]:
        """Embed and upsert ``records``; return them as stored, with embeddings.

        A record that is already stored (same id) is overwritten, except that a
        score the new record leaves as None keeps its stored value and the
        record keeps its original place in insertion order.
        """
        records = list(records)
        for i, record in enumerate(records):
            if not isinstance(record, PromptRecord):
                raise TypeError(
                    f"add() expects PromptRecords, found {type(record).__name__} at {i}"
                )
        if not records:
            return []
        latest = {record.id: record for record in records}  # the last duplicate wins
        ids = list(latest)
        vectors = self._embedder.embed([latest[i].text for i in ids])
        if vectors.shape != (len(ids), self._embedder.dim):
            raise ValueError(
                f"embedder {self._embedder.name!r} returned shape {vectors.shape}, "
                f"expected {(len(ids), self._embedder.dim)}"
            )
        stored: dict[str, PromptRecord] = {}
        with self._lock:
            old = self._collection.get(ids=ids, include=["metadatas"])
            old_meta = dict(zip(old["ids"], column(old, "metadatas", len(old["ids"])), strict=True))
            metadatas = []
            for record_id, vector in zip(ids, vectors, strict=True):
                record = latest[record_id]
                previous = old_meta.get(record_id) or {}
                record = dataclasses.replace(
                    record,
                    dev_score=_first(record.dev_score, previous.get("dev_score")),
                    test_score=_first(record.test_score, previous.get("test_score")),
                    parts=record.parts
                    if record.parts is not None or not previous.get("parts")
                    else json.loads(str(previous["parts"])),
                    embedding=vector,
                )
                seq = previous.get("seq")
                metadatas.append(
                    metadata_of(record, int(seq) if seq is not None else self._next_seq())
                )
                stored[record_id] = record
            for start, stop in self._batches(len(ids)):
                self._collection.upsert(
                    ids=ids[start:stop],
                    embeddings=vectors[start:stop],
                    documents=[latest[i].text for i in ids[start:stop]],
                    metadatas=metadatas[start:stop],
                )
        return [stored[record.id] for record in records]

    def _batches(self, n: int) -> Iterable[tuple[int, int]]:
        size = n
        get_max = getattr(self._client, "get_max_batch_size", None)
        if get_max is not None:
            size = max(1, int(get_max()))
        for start in range(0, n, size):
            yield start, min(n, start + size)

    def set_scores(
        self, record_id: str, *, dev: float | None = None, test: float | None = None
    ) -> None:
        """Set the dev and/or test score of a stored prompt (None leaves a score as is)."""
        dev = check_score("dev", dev)
        test = check_score("test", test)
        if dev is None and test is None:
            raise ValueError("set_scores() needs dev=, test= or both")
        # Chroma merges an update into the stored metadata: send only what changes.
        changes: dict[str, float] = {}
        if dev is not None:
            changes["dev_score"] = dev
        if test is not None:
            changes["test_score"] = test
        with self._lock:
            if not self._collection.get(ids=[record_id], include=[])["ids"]:
                raise KeyError(f"no prompt with id {record_id!r} in the store")
            self._collection.update(ids=[record_id], metadatas=[changes])

    def get(self, record_id: str) -> PromptRecord | None:
        """Return the stored prompt with this id (with its embedding), or None."""
        found = self._collection.get(ids=[record_id], include=_INCLUDE_RECORD)
        records = self._records(found)
        return records[0] if records else None

    def nearest(
        self,
        query: str | np.ndarray,
        *,
        k: int = 5,
        task: str | None = None,
        run: str | None = None,
        exclude_ids: Sequence[str] = (),
        ids: Sequence[str] | None = None,
    ) -> list[tuple[PromptRecord, float]]:
        """Return the ``k`` stored prompts most similar to ``query``, best first.

        ``query`` is a text (embedded here) or a vector of this store's embedder.
        Each hit comes with its cosine similarity. ``task=None`` searches every task.
        ``ids`` restricts the search to those records (e.g. one optimizer's trajectory).
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, found {k!r}")
        vector = self._query_vector(query)
        exclude = set([exclude_ids] if isinstance(exclude_ids, str) else exclude_ids)
        if ids is not None:
            if isinstance(ids, str):
                raise ValueError(f"ids must be a sequence of ids, found the string {ids!r}")
            # Chroma fails the whole query on an id it does not hold: keep the stored ones.
            wanted = list(dict.fromkeys(ids))
            stored = set(self._collection.get(ids=wanted, include=[])["ids"]) if wanted else set()
            ids = [record_id for record_id in wanted if record_id in stored]
            if not ids:
                return []
        n_results = k + len(exclude)
        found = self._collection.query(
            query_embeddings=[vector],
            n_results=n_results,
            where=where_clause(task, run),
            ids=ids,
            include=[*_INCLUDE_RECORD, "distances"],
        )
        # query() answers one list per query vector; we sent one.
        first = {key: found[key][0] for key in ("ids", *_INCLUDE_RECORD, "distances")}
        records = self._records(first)
        hits = [
            (record, 1.0 - float(distance))
            for record, distance in zip(records, first["distances"], strict=True)
            if record.id not in exclude
        ]
        return hits[:k]

    def scored(self, task: str, *, run: str | None = None) -> list[PromptRecord]:
        """Every prompt of ``task`` (optionally of one run) with a dev score, best first."""
        found = self._collection.get(where=where_clause(task, run), include=_INCLUDE_RECORD)
        seqs = self._seqs(found)
        records = [r for r in self._records(found) if r.dev_score is not None]
        return sorted(records, key=lambda r: (-(r.dev_score or 0.0), seqs[r.id]))

    def trajectory(self, run: str) -> list[PromptRecord]:
        """Return a run's prompts ordered by step, then by when they were first added."""
        found = self._collection.get(where=where_clause(None, run), include=_INCLUDE_RECORD)
        seqs = self._seqs(found)
        return sorted(self._records(found), key=lambda r: (r.step, seqs[r.id]))

    def count(self) -> int:
        """How many prompts the store holds."""
        return int(self._collection.count())

    def _query_vector(self, query: str | np.ndarray) -> np.ndarray:
        if isinstance(query, str):
            return self._embedder.embed([query])[0]
        vector = np.asarray(query, dtype=np.float32)
        if vector.ndim == 2 and vector.shape[0] == 1:
            vector = vector[0]
        if vector.shape != (self._embedder.dim,):
            raise ValueError(
                f"query vector must have shape ({self._embedder.dim},) for embedder "
                f"{self._embedder.name!r}, found {vector.shape}"
            )
        if not np.all(np.isfinite(vector)) or not np.any(vector):
            raise ValueError("query vector must be finite and not all zeros")
        return vector

    @staticmethod
    def _records(found: Mapping[str, Any]) -> list[PromptRecord]:
        ids = list(found["ids"])
        n = len(ids)
        return [
            record_of(record_id, text or "", meta or {}, vector)
            for record_id, text, meta, vector in zip(
                ids,
                column(found, "documents", n),
                column(found, "metadatas", n),
                column(found, "embeddings", n),
                strict=True,
            )
        ]

    @staticmethod
    def _seqs(found: Mapping[str, Any]) -> dict[str, int]:
        n = len(found["ids"])
        metas = column(found, "metadatas", n)
        return {i: int((m or {}).get("seq", 0)) for i, m in zip(found["ids"], metas, strict=True)}


def _first(value: float | None, fallback: Any) -> float | None:
    return value if value is not None else (None if fallback is None else float(fallback))
