"""Persistent cache of LLM responses, so the same call is never paid for twice.

A response is keyed by everything that determines it: the model identity
(endpoint, model name, decoding settings), the rendered messages, and a sample
index (independent samples of the same request are different entries). The
store is one SQLite file in WAL mode, safe across threads and processes, and it
survives restarts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from memory.sqlite_wal import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A stored completion with the usage it cost when it was first paid for."""

    text: str
    prompt_tokens: int
    completion_tokens: int


class ResponseStore(Protocol):
    """Where answers are kept: a SQLite file (:class:`ResponseCache`) or a shared PostgreSQL."""

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for ``key``, or None on a miss."""
        ...

    def put(self, key: str, response: CachedResponse) -> None:
        """Store a response; an existing entry for the key is kept (first answer wins)."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None:
        """Release connections."""
        ...


def cache_key(request: dict[str, Any]) -> str:
    """Hash a JSON-serialisable request description into a stable key."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """A SQLite-backed map from request key to completion.

    One connection per thread: sqlite3 connections must not be shared across
    threads, and the evaluator calls in from worker threads and event loops.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connect().execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> CachedResponse | None:
        """Return the stored response for ``key``, or None on a miss."""
        row = (
            self._connect()
            .execute(
                "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key = ?",
                (key,),
            )
            .fetchone()
        )
        return None if row is None else CachedResponse(*row)

    def put(self, key: str, response: CachedResponse) -> None:
        """Store a response; an existing entry for the key is kept (first answer wins)."""
        self._connect().execute(
            "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?)",
            (key, response.text, response.prompt_tokens, response.completion_tokens, time.time()),
        )

    def __len__(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
