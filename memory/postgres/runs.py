"""The run registry in PostgreSQL: every process naming the database sees the same runs.

A run's lease is a session-level advisory lock held on a connection of its own
for as long as the run is driven: PostgreSQL releases it when that connection
ends, so a process killed with -9 never leaves its run locked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from memory.postgres.connection import connect
from memory.postgres.database import Database
from memory.run_registry import busy, unknown_run, updated_record

_LEASE_NAMESPACE = "promptpilot-run:"


class PostgresRegistry:
    """The :class:`~memory.run_registry.RunRegistry` of a shared PostgreSQL store."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def where(self) -> str:
        """Where the records are, for messages."""
        return self._db.where

    def record(self, run: str, **fields: Any) -> dict[str, Any]:
        """Create or update ``run``'s record with ``fields``; returns the record."""
        with self._db.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT record FROM promptpilot_runs WHERE run = %s FOR UPDATE", (run,)
            ).fetchone()
            record = updated_record(json.loads(row[0]) if row else None, run, fields, self.where)
            text = json.dumps(record, ensure_ascii=False)
            conn.execute(
                "INSERT INTO promptpilot_runs (run, record, created) VALUES (%s, %s, %s) "
                "ON CONFLICT (run) DO UPDATE SET record = EXCLUDED.record",
                (run, text, record["created"]),
            )
        return record

    def write_report(self, run: str, report: dict[str, Any]) -> None:
        """Store ``run``'s final report."""
        text = json.dumps(report, ensure_ascii=False)
        stub = updated_record(None, run, {}, self.where)  # kept only if the run has no record yet
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO promptpilot_runs (run, record, report, created) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (run) DO UPDATE SET report = EXCLUDED.report",
                (run, json.dumps(stub), text, stub["created"]),
            )

    def list(self) -> list[dict[str, Any]]:
        """Every run's record, newest first."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT record FROM promptpilot_runs ORDER BY created DESC, run DESC"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def has(self, run: str) -> bool:
        """Whether ``run`` has a record."""
        with self._db.connection() as conn:
            return (
                conn.execute("SELECT 1 FROM promptpilot_runs WHERE run = %s", (run,)).fetchone()
                is not None
            )

    def load(self, run: str) -> dict[str, Any]:
        """``run``'s record and, when present, its report; a ValueError for an unknown run."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT record, report FROM promptpilot_runs WHERE run = %s", (run,)
            ).fetchone()
        if row is None:
            raise unknown_run(run, self.where, self.list())
        record = json.loads(row[0])
        if row[1] is not None:
            record["report"] = json.loads(row[1])
        return record

    @contextmanager
    def lease(self, run: str) -> Iterator[None]:
        """Hold ``run`` for this process while the block runs; RunBusy if another has it."""
        with connect(self._db.url) as conn:  # its own session: the lock lives and dies with it
            row = conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (_LEASE_NAMESPACE + run,)
            ).fetchone()
            if not (row and row[0]):
                raise busy(run, self.where)
            yield  # closing the connection releases the lock
