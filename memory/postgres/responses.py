"""The response cache in PostgreSQL: an answer paid for by one process is free for all."""

from __future__ import annotations

import time

from memory.postgres.database import Database
from memory.response_cache import CachedResponse


class PostgresResponseCache:
    """The :class:`~memory.response_cache.ResponseStore` of a shared PostgreSQL store."""

    def __init__(self, database: Database, *, owns_database: bool = False) -> None:
        self._db = database
        self._owns_database = owns_database

    @classmethod
    def open(cls, url: str) -> PostgresResponseCache:
        """A cache with a pool of its own on ``url`` (closed with the cache)."""
        return cls(Database(url), owns_database=True)

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for ``key``, or None on a miss."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM promptpilot_responses "
                "WHERE key = %s",
                (key,),
            ).fetchone()
        return None if row is None else CachedResponse(*row)

    def put(self, key: str, response: CachedResponse) -> None:
        """Store a response; an existing entry for the key is kept (first answer wins)."""
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO promptpilot_responses VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO NOTHING",
                (key, response.text, response.prompt_tokens, response.completion_tokens,
                 time.time()),
            )  # fmt: skip

    def __len__(self) -> int:
        with self._db.connection() as conn:
            row = conn.execute("SELECT COUNT(*) FROM promptpilot_responses").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the pool if this cache opened it."""
        if self._owns_database:
            self._db.close()
