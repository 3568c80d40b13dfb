"""Step checkpoints in PostgreSQL: a run stopped in one process continues in another."""

from __future__ import annotations

import json
import time
from typing import Any

from memory.postgres.database import Database
from memory.step_store import StepCheckpoint


class PostgresStepStore:
    """The :class:`~memory.step_store.StepStore` of a shared PostgreSQL store."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def save(self, run: str, optimizer: str, payload: dict[str, Any]) -> None:
        """Replace ``run``'s checkpoint."""
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO promptpilot_step_checkpoints VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (run) DO UPDATE SET optimizer = EXCLUDED.optimizer, "
                "payload = EXCLUDED.payload, updated = EXCLUDED.updated",
                (run, optimizer, json.dumps(payload), time.time()),
            )

    def load(self, run: str) -> StepCheckpoint | None:
        """``run``'s checkpoint, or None before its first step."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT optimizer, payload FROM promptpilot_step_checkpoints WHERE run = %s",
                (run,),
            ).fetchone()
        return None if row is None else StepCheckpoint(row[0], json.loads(row[1]))
