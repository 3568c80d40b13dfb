"""Checkpoints of single-optimizer runs, so ``runs resume`` continues them too.

``--optimizer auto`` runs are LangGraph threads, checkpointed by the graph. A run
of one optimizer is a plain :class:`~optimizers.runner.Runner` loop; after every
step this saves what the loop needs to go on (the search snapshot and the
optimizer's state dict) in the workspace's step store (the checkpoint SQLite
file, or PostgreSQL), one row per run, replaced atomically. Like the graph's
checkpoints it holds no texts and no scores: the prompts come back from the
prompt memory and every answer from the response cache, so a resumed run pays
for nothing twice.
"""

from __future__ import annotations

import json
from typing import Any

from agent.run.session import RunSession
from agent.run.workspace import Workspace
from memory.run_registry import RunRegistry
from memory.step_store import StepStore
from optimizers.base import Optimizer
from optimizers.events import RunEvent, StepDone
from optimizers.outcome import RunOutcome
from optimizers.runner import Runner
from optimizers.search import Search


def save_step(steps: StepStore, run: str, search: Search, optimizer: Optimizer) -> None:
    """Replace ``run``'s checkpoint with the state after the step just done."""
    payload = {"search": search.snapshot(), "optimizer": optimizer.state_dict()}
    steps.save(run, optimizer.name, payload)


async def checkpointed_search(session: RunSession, workspace: Workspace) -> RunOutcome:
    """Run the request's optimizer to the end of the search, checkpointed after every step.

    A run with a checkpoint continues from it: the search is restored (its
    scores re-read from the cache) and the optimizer loads its state, so it
    proposes what the interrupted run would have proposed next.
    """
    run, request = session.run, session.request
    saved = workspace.steps.load(run)
    optimizer = session.optimizer(request.optimizer, saved.payload["optimizer"] if saved else None)
    search = session.search
    if saved is not None:
        await search.restore(saved.payload["search"])
    forward = search.on_event

    def save_after_step(event: RunEvent) -> None:
        if isinstance(event, StepDone):  # the step is recorded and told: a consistent state
            save_step(workspace.steps, run, search, optimizer)
        forward(event)

    search.on_event = save_after_step
    return await Runner.over(optimizer, search).run()


def register_run(runs: RunRegistry, run: str, request: Any) -> None:
    """Record ``run`` as running, with its request, before any work: resumable from now on.

    ``request`` is an :class:`~agent.run.request.OptimizeRequest` (which imports us).
    An existing run of that id must have the same request: its checkpoint is
    continued, never mixed with another request's.
    """
    config = json.loads(json.dumps(request.config()))  # as stored: tuples become lists
    known = runs.load(run).get("request") if runs.has(run) else None
    if known is not None and known != config:
        raise ValueError(
            f"run {run!r} already exists with another request; give the new run another "
            "--run-id, or continue that one with `promptpilot runs resume`"
        )
    runs.record(
        run, status="running", optimizer=request.optimizer, request=request.config(),
        error=None,
    )  # fmt: skip
