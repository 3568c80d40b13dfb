"""Driving the graph: start a run, stream what happens, answer questions, resume.

Every step is checkpointed (synchronously) in the workspace's checkpointer
(SQLite under the home, or PostgreSQL) before the next begins,
so a run killed at any point resumes from its last step. Work the killed step
had already paid for is not paid again: every model answer is in the response
cache, and every scored prompt in the prompt memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.types import Command

from agent.graph.builder import build_graph
from agent.graph.nodes import initial_state
from agent.graph.state import PilotState
from agent.llm.runtime import ModelRuntime
from agent.run.failures import recording_failures
from agent.run.request import OptimizeRequest, new_run_id
from agent.run.session import RunSession
from agent.run.workspace import Workspace
from memory.embeddings import Embedder
from memory.run_registry import RunRegistry
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.events import EventFn

AnswerFn = Callable[[str], Awaitable[str]]
MessageFn = Callable[[AIMessage], None]


async def run_pilot(
    request: OptimizeRequest | None,
    runtime: ModelRuntime,
    *,
    home: Path | Workspace,
    run: str | None = None,
    embedder: Embedder | None = None,
    on_event: EventFn | None = None,
    on_message: MessageFn | None = None,
    answer: AnswerFn | None = None,
    use_planner_model: bool | None = None,
    planner: ChatCaller | None = None,
    on_session: Callable[[RunSession], None] | None = None,
) -> dict[str, Any] | None:
    """Run (or, with ``request=None`` and a ``run`` id, resume) a graph-driven optimization.

    ``use_planner_model=None`` lets the optimizer model plan unless it is the
    embedded SmolLM2: its tool-call grammar took 200 s on first use here and its
    choices were noise, so the deterministic policy plans for it. ``planner``
    overrides the planner model (any caller with ``structured``).

    Returns the final report, or None when the run waits for an answer that no
    ``answer`` callback gave (resume it later with the answer as steering).
    """
    if use_planner_model is None:
        use_planner_model = not runtime.settings.optimizer.embedded
    workspace = Workspace.of(home)
    workspace.home.mkdir(parents=True, exist_ok=True)
    runs = workspace.runs
    async with workspace.checkpointer() as saver:
        graph = build_graph(saver)
        start = await _starting_point(graph, request, runs, run)
        request, run = start.request, start.run
        with runs.lease(run):  # one process drives a run at a time
            runs.record(  # an old question is answered now (or asked again below)
                run, status="running", optimizer="auto", request=request.config(), question=None,
                error=None,
            )  # fmt: skip
            with recording_failures(runs, run):  # an outage is resumable: checkpointed
                session = RunSession.open(
                    request, runtime, workspace=workspace, run=run, embedder=embedder,
                    on_event=on_event,
                    planner=planner or (runtime.optimizer if use_planner_model else None),
                )  # fmt: skip
                try:
                    if start.state is not None:
                        await _restore(session, start.state)
                    if on_session is not None:
                        on_session(session)
                    snapshot = await _drive(graph, start, session, answer, on_message)
                finally:
                    session.close()
            return _finish(runs, run, start, snapshot)


def _finish(runs: RunRegistry, run: str, start: _Start, snapshot: Any) -> dict[str, Any] | None:
    """Record how the run ended; its report, or None while it waits for an answer."""
    if snapshot is None:  # waiting for an answer no callback gave
        runs.record(run, status="waiting", question=start.pending[0]["question"])
        return None
    report = snapshot.values.get("report")
    if report is not None:
        report = {**report, "optimizer": "auto"}
        runs.write_report(run, report)
    runs.record(run, status="finished" if report else "stopped")
    return report


@dataclass
class _Start:
    """Where a run starts: a new state, or a checkpoint and the questions it waits on."""

    request: OptimizeRequest
    run: str
    state: PilotState | None  # restored from the checkpoint
    graph_input: Any
    pending: list[dict[str, Any]]  # interrupts the checkpoint waits on


async def _starting_point(
    graph: Any, request: OptimizeRequest | None, runs: RunRegistry, run: str | None
) -> _Start:
    """A new run's initial state, or a resumed run's last checkpoint."""
    if request is None:
        if run is None:
            raise ValueError("resuming needs the run id")
        snapshot = await graph.aget_state({"configurable": {"thread_id": run}})
        if snapshot.values:
            state = PilotState(**snapshot.values)
            pending = [i.value for i in snapshot.interrupts]
            return _Start(OptimizeRequest.from_config(state.request), run, state, None, pending)
        request = _recorded_request(runs, run)  # killed before its first checkpoint: start again
    run = run or new_run_id(request)
    graph_input = initial_state(request.config(), run, list(request.directives))
    return _Start(request, run, None, graph_input, [])


async def _drive(
    graph: Any,
    start: _Start,
    session: RunSession,
    answer: AnswerFn | None,
    on_message: MessageFn | None,
) -> Any:
    """Stream the graph until it ends; its final snapshot, or None if a question is unanswered.

    ``start.pending`` is left holding the unanswered question.
    """
    config = {"configurable": {"thread_id": start.run}}
    graph_input = start.graph_input
    while True:
        if start.pending:
            if answer is None:
                return None
            graph_input = Command(resume=await answer(start.pending[0]["question"]))
        async for update in graph.astream(
            graph_input, config, context=session, stream_mode="updates", durability="sync"
        ):
            _show(update, on_message)
        snapshot = await graph.aget_state(config)
        start.pending = [i.value for i in snapshot.interrupts]
        if not start.pending:
            return snapshot


def _recorded_request(runs: RunRegistry, run: str) -> OptimizeRequest:
    """The request of a run killed before its first checkpoint, from the run registry."""
    record = runs.load(run)  # a clear error for an unknown run
    if "request" not in record:
        raise ValueError(f"run {run!r} has no checkpoint and no request in {runs.where}")
    return OptimizeRequest.from_config(record["request"])


async def _restore(session: RunSession, state: PilotState) -> None:
    """Put a resumed session back where the checkpoint left it."""
    session.set_directives(tuple(state.directives))
    if state.search:
        await session.search.restore(state.search)

    # Optimizers sharing the candidate domain each saved it when they last ran;
    # the one saved with the most entries is the newest, so it loads last.
    def domain_size(item: tuple[str, dict[str, Any]]) -> int:
        return len(item[1].get("domain", {}).get("entries", []))

    for name, optimizer_state in sorted(state.optimizer_states.items(), key=domain_size):
        session.optimizer(name, optimizer_state)


def _show(update: dict[str, Any], on_message: MessageFn | None) -> None:
    if on_message is None or not isinstance(update, dict):
        return
    for node_update in update.values():
        if isinstance(node_update, dict):
            for message in node_update.get("messages", []):
                if isinstance(message, AIMessage):
                    on_message(message)
