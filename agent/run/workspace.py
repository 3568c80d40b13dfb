"""Where a process keeps its runs, checkpoints, answers and prompt memory.

By default all of it is in files under the PromptPilot home: the run registry
(``runs/``), the graph's and the steps' checkpoints (``checkpoints.sqlite``), the
response cache (``cache.sqlite``) and the prompt memory (``prompts/``, embedded
Chroma). A team points every process at shared servers instead:

- ``store_url`` (``postgresql://…``): the run registry, both kinds of checkpoint
  and the response cache live in that database, so every process naming it sees
  the same runs, resumes another's run and never pays twice for an answer;
- ``memory_url`` (``http://…``): the prompt memory lives on that Chroma server.

The same code paths serve both: each store is one interface with two
implementations, chosen here by URL. The home still holds what is local by
nature (the app's downloads and views).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.llm.environment import MEMORY_URL_VARIABLE, STORE_URL_VARIABLE, home_dir
from memory.embeddings import Embedder
from memory.postgres.connection import check_url, connect
from memory.postgres.database import Database
from memory.postgres.runs import PostgresRegistry
from memory.postgres.steps import PostgresStepStore
from memory.prompt_store import PromptStore
from memory.run_registry import FolderRegistry, RunRegistry
from memory.sqlite_wal import BUSY_TIMEOUT_S, use_wal
from memory.step_store import SqliteStepStore, StepStore

_GRAPH_SETUP_LOCK = 0x50504752  # advisory lock id: one process at a time sets LangGraph's tables up


@dataclass(frozen=True)
class StoreSettings:
    """Where the stores are: the home, and optionally shared servers."""

    home: Path
    store_url: str | None = None  # postgresql://…: runs, checkpoints, response cache
    memory_url: str | None = None  # http://…: the prompt memory on a Chroma server

    def __post_init__(self) -> None:
        if self.store_url is not None:
            check_url(self.store_url)


def store_settings(
    home: Path | None = None, *, store_url: str | None = None, memory_url: str | None = None
) -> StoreSettings:
    """Where the stores are: the flags, else the PROMPTPILOT_STORE_URL / _MEMORY_URL variables."""
    return StoreSettings(
        home=home_dir(home),
        store_url=store_url or os.environ.get(STORE_URL_VARIABLE) or None,
        memory_url=memory_url or os.environ.get(MEMORY_URL_VARIABLE) or None,
    )


class Workspace:
    """The stores of one process, opened from :class:`StoreSettings`; close it when done."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self._db = Database(settings.store_url) if settings.store_url else None
        self.runs: RunRegistry
        self.steps: StepStore
        if self._db is None:
            self.runs = FolderRegistry(settings.home)
            self.steps = SqliteStepStore(self.checkpoint_file)
        else:
            self.runs = PostgresRegistry(self._db)
            self.steps = PostgresStepStore(self._db)

    @classmethod
    def of(cls, where: Path | Workspace) -> Workspace:
        """``where`` itself, or the default local workspace of the home folder ``where``."""
        return where if isinstance(where, Workspace) else cls(StoreSettings(home=where))

    @property
    def database(self) -> Database | None:
        """The shared PostgreSQL store's pool, for the response cache to share; None if local."""
        return self._db

    @property
    def home(self) -> Path:
        """The local folder (files that are local by nature, and the default stores)."""
        return self.settings.home

    @property
    def checkpoint_file(self) -> Path:
        """The SQLite file of the local checkpoints."""
        return self.home / "checkpoints.sqlite"

    def open_prompt_store(self, embedder: Embedder) -> PromptStore:
        """The prompt memory: on the Chroma server if one is named, else under the home."""
        if self.settings.memory_url:
            return PromptStore.remote(self.settings.memory_url, embedder)
        return PromptStore.embedded(self.home / "prompts", embedder)

    @asynccontextmanager
    async def checkpointer(self) -> AsyncIterator[BaseCheckpointSaver[Any]]:
        """The graph's checkpointer: LangGraph's PostgreSQL saver, or SQLite under the home."""
        if self.settings.store_url is None:
            # ``AsyncSqliteSaver.from_conn_string`` keeps sqlite's 5 s busy timeout, which
            # ten runs starting together exceeded (see :mod:`memory.sqlite_wal`).
            await asyncio.to_thread(use_wal, self.checkpoint_file)
            async with aiosqlite.connect(self.checkpoint_file, timeout=BUSY_TIMEOUT_S) as conn:
                yield AsyncSqliteSaver(conn)
            return
        url = self.settings.store_url
        await asyncio.to_thread(_setup_graph_tables, url)
        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            yield saver

    def close(self) -> None:
        """Close the shared database's connections, if any."""
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _setup_graph_tables(url: str) -> None:
    """Create or migrate LangGraph's checkpoint tables, one process at a time.

    ``setup()`` of two processes at once raced on its migrations table; an
    advisory lock around it makes the second wait and find the work done.
    """
    from langgraph.checkpoint.postgres import PostgresSaver

    with connect(url) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (_GRAPH_SETUP_LOCK,))
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
