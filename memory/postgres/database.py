"""One PostgreSQL database shared by the stores of a process: a pool of connections.

The run registry, the step checkpoints and the response cache of a process share
one pool. It is made only after a first direct connection has worked and the
schema is in place, so a wrong URL or a down server fails at once with a
:class:`~memory.postgres.connection.StoreError`, not later inside a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from memory.postgres.connection import connect, redact
from memory.postgres.schema import ensure_schema

_POOL_SIZE = 8  # the evaluator's threads and event loops read the cache at once


class Database:
    """A connection pool on ``url`` with the PromptPilot tables created."""

    def __init__(self, url: str) -> None:
        self.url = url
        with connect(url) as conn:
            ensure_schema(conn, url)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=_POOL_SIZE, kwargs={"autocommit": True}, open=True,
            name="promptpilot",
        )  # fmt: skip

    @property
    def where(self) -> str:
        """The database for messages: its URL with the password hidden."""
        return redact(self.url)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection for the block."""
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
