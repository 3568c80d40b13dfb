"""Headless optimization with one optimizer: a request in, a report with honest test numbers out.

The search (any optimizer, inside :class:`~optimizers.runner.Runner`) sees train
and dev only; the report (:mod:`agent.run.report`) scores test once, at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.llm.runtime import ModelRuntime
from agent.run.failures import recording_failures
from agent.run.report import OptimizeReport, build_report
from agent.run.request import OptimizeRequest, new_run_id
from agent.run.session import RunSession
from agent.run.step_checkpoint import checkpointed_search, register_run
from agent.run.workspace import Workspace
from memory.embeddings import Embedder
from optimizers.events import EventFn


async def run_optimize(
    request: OptimizeRequest,
    runtime: ModelRuntime,
    *,
    home: Path | Workspace,
    run: str | None = None,
    embedder: Embedder | None = None,
    on_event: EventFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> OptimizeReport:
    """Search on train/dev with one optimizer, then report seed vs best on test.

    The run is checkpointed after every step; given the ``run`` id of a run that
    was killed or stopped by its endpoint, it continues from the last step.
    """
    started = time.monotonic()
    workspace = Workspace.of(home)
    run = run or new_run_id(request)
    with workspace.runs.lease(run):  # one process drives a run at a time
        register_run(workspace.runs, run, request)
        with recording_failures(workspace.runs, run):
            session = RunSession.open(
                request, runtime, workspace=workspace, run=run, embedder=embedder,
                on_event=on_event, should_stop=should_stop,
            )  # fmt: skip
            try:
                outcome = await checkpointed_search(session, workspace)
                interrupted = outcome.stopped == "interrupted"
                tested = (None, None, None) if interrupted else await session.report()
            finally:
                session.close()
    return build_report(session, outcome, tested, started)
