"""Where single-optimizer runs keep their step checkpoints: SQLite here, or PostgreSQL.

A checkpoint is one row per run, replaced after every step: the optimizer's
name and a JSON payload (the search snapshot and the optimizer's state). What
goes in it is the run loop's business (:mod:`agent.run.step_checkpoint`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from memory.sqlite_wal import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS step_checkpoints (
    run TEXT PRIMARY KEY,
    optimizer TEXT NOT NULL,
    payload TEXT NOT NULL,
    updated REAL NOT NULL
)
"""


@dataclass(frozen=True)
class StepCheckpoint:
    """A run's last step checkpoint."""

    optimizer: str
    payload: dict[str, Any]


class StepStore(Protocol):
    """Step checkpoints, wherever they are kept."""

    def save(self, run: str, optimizer: str, payload: dict[str, Any]) -> None:
        """Replace ``run``'s checkpoint."""
        ...

    def load(self, run: str) -> StepCheckpoint | None:
        """``run``'s checkpoint, or None before its first step."""
        ...


@dataclass(frozen=True)
class SqliteStepStore:
    """Step checkpoints in a SQLite file (the graph's checkpoint file, by default)."""

    path: Path

    def save(self, run: str, optimizer: str, payload: dict[str, Any]) -> None:
        """Replace ``run``'s checkpoint."""
        conn = connect(self.path)
        try:
            conn.execute(_SCHEMA)
            conn.execute(
                "INSERT OR REPLACE INTO step_checkpoints VALUES (?, ?, ?, ?)",
                (run, optimizer, json.dumps(payload), time.time()),
            )
        finally:
            conn.close()

    def load(self, run: str) -> StepCheckpoint | None:
        """``run``'s checkpoint, or None before its first step."""
        if not self.path.exists():
            return None
        conn = connect(self.path)
        try:
            conn.execute(_SCHEMA)
            row = conn.execute(
                "SELECT optimizer, payload FROM step_checkpoints WHERE run = ?", (run,)
            ).fetchone()
        finally:
            conn.close()
        return None if row is None else StepCheckpoint(row[0], json.loads(row[1]))
