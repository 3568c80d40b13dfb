"""Checkpoints of single-optimizer runs, so ``runs resume`` continues them too.

``--optimizer auto`` runs are LangGraph threads, checkpointed by the graph. A run
of one optimizer is a plain :class:`~optimizers.runner.Runner` loop; after every
step this saves what the loop needs to go on (the search snapshot and the
optimizer's state dict) in the same SQLite file, one row per run, replaced
atomically. Like the graph's checkpoints it holds no texts and no scores: the
prompts come back from the prompt memory and every answer from the response
cache, so a resumed run pays for nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.run.records import checkpoint_path, load_run, record_run, runs_dir
from agent.run.session import RunSession
from memory.sqlite_wal import connect
from optimizers.base import Optimizer
from optimizers.events import RunEvent, StepDone
from optimizers.outcome import RunOutcome
from optimizers.runner import Runner
from optimizers.search import Search

_SCHEMA = """
CREATE TABLE IF NOT EXISTS step_checkpoints (
    run TEXT PRIMARY KEY,
    optimizer TEXT NOT NULL,
    payload TEXT NOT NULL,
    updated REAL NOT NULL
)
"""


@dataclass(frozen=True)
class StepCheckpoints:
    """The single-optimizer checkpoints in one SQLite file."""

    path: Path

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path)
        conn.execute(_SCHEMA)
        return conn

    def save(self, run: str, search: Search, optimizer: Optimizer) -> None:
        """Replace ``run``'s checkpoint with the state after the step just done."""
        payload = {"search": search.snapshot(), "optimizer": optimizer.state_dict()}
        conn = self._connect()
        try:
            conn.execute(
                "INSERT OR REPLACE INTO step_checkpoints VALUES (?, ?, ?, ?)",
                (run, optimizer.name, json.dumps(payload), time.time()),
            )
        finally:
            conn.close()

    def load(self, run: str) -> dict[str, Any] | None:
        """``{"optimizer": name, "search": ..., "state": ...}``, or None before the first step."""
        if not self.path.exists():
            return None
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT optimizer, payload FROM step_checkpoints WHERE run = ?", (run,)
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        payload = json.loads(row[1])
        return {"optimizer": row[0], "search": payload["search"], "state": payload["optimizer"]}


async def checkpointed_search(session: RunSession, home: Path) -> RunOutcome:
    """Run the request's optimizer to the end of the search, checkpointed after every step.

    A run with a checkpoint continues from it: the search is restored (its
    scores re-read from the cache) and the optimizer loads its state, so it
    proposes what the interrupted run would have proposed next.
    """
    run, request = session.run, session.request
    checkpoints = StepCheckpoints(checkpoint_path(home))
    saved = checkpoints.load(run)
    optimizer = session.optimizer(request.optimizer, saved["state"] if saved else None)
    search = session.search
    if saved is not None:
        await search.restore(saved["search"])
    forward = search.on_event

    def save_after_step(event: RunEvent) -> None:
        if isinstance(event, StepDone):  # the step is recorded and told: a consistent state
            checkpoints.save(run, search, optimizer)
        forward(event)

    search.on_event = save_after_step
    return await Runner.over(optimizer, search).run()


def register_run(home: Path, run: str, request: Any) -> None:
    """Record ``run`` as running, with its request, before any work: resumable from now on.

    ``request`` is an :class:`~agent.run.request.OptimizeRequest` (which imports us).
    An existing run of that id must have the same request: its checkpoint is
    continued, never mixed with another request's.
    """
    config = json.loads(json.dumps(request.config()))  # as stored: tuples become lists
    known = (
        load_run(home, run).get("request") if (runs_dir(home) / run / "run.json").exists() else None
    )
    if known is not None and known != config:
        raise ValueError(
            f"run {run!r} already exists with another request; give the new run another "
            "--run-id, or continue that one with `promptpilot runs resume`"
        )
    record_run(
        home, run, status="running", optimizer=request.optimizer, request=request.config(),
        error=None,
    )  # fmt: skip
