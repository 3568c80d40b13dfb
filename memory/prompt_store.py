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
import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from memory.embeddings import Embedder
from memory.file_lock import locked_beside

SPACE = "cosine"
_EMBEDDER_KEY = "embedder"
_DIM_KEY = "embedder_dim"
_INCLUDE_RECORD = ["documents", "metadatas", "embeddings"]


def prompt_id(run: str, text: str) -> str:
    """Return the stable id of ``text`` in ``run``: one record per prompt and run."""
    digest = hashlib.sha256(f"{run}\x00{text}".encode()).hexdigest()
    return f"p-{digest[:32]}"


def _check_name(owner: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"PromptRecord.{owner} must be a non-empty string, found {value!r}")
    return value


def _check_score(owner: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{owner} must be a number or None, found {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner} must be a finite number, found {number}")
    return number


@dataclass(frozen=True, kw_only=True)
class PromptRecord:
    """One prompt, where it came from, and how well it did.

    ``id`` defaults to :func:`prompt_id` of ``(run, text)``. ``embedding`` is
    filled when a record is read back from (or written to) a store; it does not
    take part in equality.
    """

    id: str = ""
    text: str
    task: str
    run: str
    step: int
    source: str
    parents: tuple[str, ...] = ()
    dev_score: float | None = None
    test_score: float | None = None
    parts: dict[str, Any] | None = field(default=None, compare=False)
    """The prompt's parts (instruction, output spec, demonstrations, layout, origin) as JSON,
    when it has more than an instruction."""
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"PromptRecord.text must be a string, found {self.text!r}")
        for name in ("task", "run", "source"):
            _check_name(name, getattr(self, name))
        if isinstance(self.step, bool) or not isinstance(self.step, int | np.integer):
            raise ValueError(f"PromptRecord.step must be an integer, found {self.step!r}")
        if self.step < 0:
            raise ValueError(f"PromptRecord.step must be >= 0, found {self.step}")
        object.__setattr__(self, "step", int(self.step))
        if isinstance(self.parents, str):
            raise ValueError(
                f"PromptRecord.parents must be a sequence of ids, found the string {self.parents!r}"
            )
        parents = tuple(self.parents)
        for parent in parents:
            _check_name("parents[...]", parent)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "dev_score", _check_score("dev_score", self.dev_score))
        object.__setattr__(self, "test_score", _check_score("test_score", self.test_score))
        if not self.id:
            object.__setattr__(self, "id", prompt_id(self.run, self.text))
        else:
            _check_name("id", self.id)


def _metadata(record: PromptRecord, seq: int) -> dict[str, str | int | float]:
    """Chroma metadata for ``record``: no None values, parents as a JSON string."""
    meta: dict[str, str | int | float] = {
        "task": record.task,
        "run": record.run,
        "step": record.step,
        "source": record.source,
        "parents": json.dumps(list(record.parents)),
        "seq": seq,
    }
    if record.dev_score is not None:
        meta["dev_score"] = record.dev_score
    if record.test_score is not None:
        meta["test_score"] = record.test_score
    if record.parts is not None:
        meta["parts"] = json.dumps(record.parts)
    return meta


def _record(record_id: str, text: str, meta: Mapping[str, Any], embedding: Any) -> PromptRecord:
    vector = None
    if embedding is not None:
        vector = np.asarray(embedding, dtype=np.float32)
    return PromptRecord(
        id=record_id,
        text=text,
        task=str(meta["task"]),
        run=str(meta["run"]),
        step=int(meta["step"]),
        source=str(meta["source"]),
        parents=tuple(json.loads(str(meta.get("parents", "[]")))),
        dev_score=meta.get("dev_score"),
        test_score=meta.get("test_score"),
        parts=json.loads(str(meta["parts"])) if meta.get("parts") else None,
        embedding=vector,
    )


def _column(result: Mapping[str, Any], key: str, n: int) -> list[Any]:
    """One column of a Chroma result; Chroma gives None (or an array) for some."""
    values = result.get(key)
    if values is None:
        return [None] * n
    return list(values)


def _where(task: str | None, run: str | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if task is not None:
        clauses.append({"task": task})
    if run is not None:
        clauses.append({"run": run})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


_CLIENTS = threading.RLock()
"""Held while a Chroma client is made or closed. chromadb shares one ``System`` per path
among a process's clients, and neither making one nor releasing it is thread-safe: a
second thread got the system before it was started (``'RustBindingsAPI' object has no
attribute 'bindings'``) or after the last client's close removed it (``KeyError``), with
ten app sessions opening their prompt memory at once."""


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Held while a process opens the store at ``path``, across threads and processes.

    chromadb creates its tables when a client first opens a folder; two processes
    doing it at once fail ("table collections already exists", seen with ten
    `promptpilot optimize` runs starting together on one home). A lock file beside
    the folder serialises the opening; the work after it is safe in parallel.
    """
    with _CLIENTS, locked_beside(path):
        yield


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _parse_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` -> (host, port, ssl); Chroma's port 8000 by default."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected a Chroma URL like http://127.0.0.1:8000, found {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"expected a Chroma URL without a path or query, found {url!r}")
    if parts.username or parts.password:
        raise ValueError("credentials in the Chroma URL are not supported")
    ssl = parts.scheme == "https"
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"the port in {url!r} is not a valid port number") from exc
    return parts.hostname, port or (443 if ssl else 8000), ssl


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
        with _opening(Path(path)):
            client = chromadb.PersistentClient(path=str(path), settings=_settings())
            return cls._owning(client, embedder, collection)

    @classmethod
    def remote(cls, url: str, embedder: Embedder, *, collection: str = "prompts") -> PromptStore:
        """Open a store on a Chroma server (``chroma run``), e.g. ``http://127.0.0.1:8000``."""
        import chromadb

        host, port, ssl = _parse_url(url)
        with _CLIENTS:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_settings())
        return cls._owning(client, embedder, collection)

    @classmethod
    def _owning(cls, client: Any, embedder: Embedder, collection: str) -> PromptStore:
        """Make a store that closes ``client`` with itself (and at once if opening fails)."""
        try:
            store = cls(client, embedder, collection=collection)
        except BaseException:
            _close(client)
            raise
        store._owns_client = True
        return store

    def close(self) -> None:
        """Release the Chroma client if this store made it (files, connections)."""
        if self._owns_client:
            self._owns_client = False
            _close(self._client)

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
        space = _space(collection)
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
            old_meta = dict(
                zip(old["ids"], _column(old, "metadatas", len(old["ids"])), strict=True)
            )
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
                    _metadata(record, int(seq) if seq is not None else self._next_seq())
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
        dev = _check_score("dev", dev)
        test = _check_score("test", test)
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
            where=_where(task, run),
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
        found = self._collection.get(where=_where(task, run), include=_INCLUDE_RECORD)
        seqs = self._seqs(found)
        records = [r for r in self._records(found) if r.dev_score is not None]
        return sorted(records, key=lambda r: (-(r.dev_score or 0.0), seqs[r.id]))

    def trajectory(self, run: str) -> list[PromptRecord]:
        """Return a run's prompts ordered by step, then by when they were first added."""
        found = self._collection.get(where=_where(None, run), include=_INCLUDE_RECORD)
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
            _record(record_id, text or "", meta or {}, vector)
            for record_id, text, meta, vector in zip(
                ids,
                _column(found, "documents", n),
                _column(found, "metadatas", n),
                _column(found, "embeddings", n),
                strict=True,
            )
        ]

    @staticmethod
    def _seqs(found: Mapping[str, Any]) -> dict[str, int]:
        n = len(found["ids"])
        metas = _column(found, "metadatas", n)
        return {i: int((m or {}).get("seq", 0)) for i, m in zip(found["ids"], metas, strict=True)}


def _first(value: float | None, fallback: Any) -> float | None:
    return value if value is not None else (None if fallback is None else float(fallback))


def _close(client: Any) -> None:
    """Close a Chroma client when the installed chromadb has ``Client.close()``."""
    close = getattr(client, "close", None)
    if close is not None:
        with _CLIENTS:
            close()


def _space(collection: Any) -> str:
    """Return the distance a collection was created with (configuration or legacy metadata).

    ``configuration_json`` rather than ``configuration``: the latter warns about the
    "legacy" embedding-function entry Chroma records for ``embedding_function=None``.
    """
    config = getattr(collection, "configuration_json", None)
    if config is None:
        config = getattr(collection, "configuration", None)
    for index in ("hnsw", "spann"):
        settings = config.get(index) if isinstance(config, Mapping) else None
        if isinstance(settings, Mapping) and settings.get("space"):
            return str(settings["space"])
    return str((collection.metadata or {}).get("hnsw:space", "l2"))
