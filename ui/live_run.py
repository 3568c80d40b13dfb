"""One run going on in this process, in its own thread, seen through its view.

The app must never block its web server's event loop. A :class:`LiveRun` drives
:func:`agent.graph.pilot.run_pilot` (the same graph as ``promptpilot optimize``) in a
background thread with its own event loop; the callbacks of the run (events, agent
messages, questions, the session) update a :class:`~ui.panels.run_view.RunView` under a
lock, and :meth:`LiveRun.snapshot` hands out copies that the UI polls. The person's messages
reach the run from the UI thread: the answer to a pending question (``ask_user``,
pause) or else steering (``RunSession.send``), read at the planner's next turn.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from typing import Any

from langchain_core.messages import AIMessage

from agent.graph.node_updates import ROUTINE
from agent.graph.pilot import run_pilot
from agent.llm.local_server import LocalServerError
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.run.report_fields import from_fields
from agent.run.request import OptimizeRequest
from agent.run.session import RunSession
from agent.run.workspace import Workspace
from memory.embeddings import Embedder
from memory.postgres.connection import StoreError
from memory.run_registry import RunBusy
from optimizers.diagnostics.low_score import explain_low_score
from optimizers.evaluation.chat_calls import EndpointError
from optimizers.evaluation.metrics import MetricError
from optimizers.events import (
    CandidateRejected,
    CandidateScored,
    RunEvent,
    Scoring,
    StepDone,
    TrajectoryEntry,
)
from optimizers.registry import NAMES, ZOPO
from optimizers.tasks import DataError
from ui.chat.answers import diagnosis_text
from ui.chat.text import (
    agent_message,
    escape_markdown,
    message,
    quote,
    result_text,
    user_message,
)
from ui.panels.embedding_map import embedding_map, unique_prompts
from ui.panels.inspect import examples_view
from ui.panels.run_view import Limits, Rejected, RunView, Used, ViewEntry
from ui.panels.stored_view import save_view

logger = logging.getLogger(__name__)

RuntimeFactory = Callable[[RuntimeSettings], AbstractContextManager[ModelRuntime]]
ACTIVE = ("starting", "running", "waiting")
STEERING_NOTED = "It applies within seconds; I'll confirm here when it does."
_STEP_NODES = frozenset({*NAMES, "evaluate"})  # nodes whose message ends a scoring step
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # ids come from URLs: no paths


def is_run_id(text: str) -> bool:
    """True for a well-formed run id (a folder name under the runs directory, nothing more)."""
    return RUN_ID.fullmatch(text) is not None and ".." not in text


def error_text(exc: BaseException) -> str:
    """One line for the person: the problem for expected failures, never a traceback."""
    if isinstance(exc, DataError | MetricError | EndpointError | ValueError | StoreError | RunBusy):
        return str(exc)
    if isinstance(exc, LocalServerError):
        return str(exc).splitlines()[0]
    return f"internal error ({type(exc).__name__}: {exc}); the app log has the details"


class LiveRun:
    """One run in a background thread; build with :meth:`LiveRuns.start` or ``resume``."""

    def __init__(
        self,
        run: str,
        request: OptimizeRequest | None,
        *,
        settings: RuntimeSettings,
        workspace: Workspace,
        embedder: Embedder,
        runtime_factory: RuntimeFactory,
        view: RunView,
        steer: Sequence[str] = (),
        use_planner_model: bool | None = None,
    ) -> None:
        self.run = run
        self._request = request  # None: resume from the checkpoint
        self._settings = settings
        self._workspace = workspace
        self._embedder = embedder
        self._runtime_factory = runtime_factory
        self._use_planner_model = use_planner_model
        self._lock = threading.RLock()  # the run's callbacks nest (event → map → view)
        self._view = view
        self._steer = list(steer)  # sent before anything else (e.g. "try zopo now")
        self._inbox: list[str] = []  # the person's messages before the session exists
        self._session: RunSession | None = None
        self._runtime: ModelRuntime | None = None
        self._pending: tuple[asyncio.AbstractEventLoop, asyncio.Future[str]] | None = None
        self._asked: set[str] = set()  # questions already shown (their node repeats them)
        self._surrogate: Any = None  # ZOPO's last SurrogateView, for the embedding map
        self._zero_checked = False  # the seed's score was looked at (once per run)
        self._step_at: int | None = None  # the message of the step going on (its prompts)
        self._step_lines: list[str] = []
        self._racing: dict[int, str] = {}  # the step's candidates while they are raced, by place
        self._step_number = 0  # steps of this run shown so far, the seed's scoring first
        self._thread = threading.Thread(target=self._main, name=f"run-{run}", daemon=True)

    # ------------------------------------------------------------------ the UI's side

    def start(self) -> LiveRun:
        """Start the run's thread."""
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        """True once the run's thread has ended (finished, stopped or failed)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it did within ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def send(self, text: str, understood: str = "", *, urgent: bool = False) -> None:
        """The person's message: the answer to a pending question, or steering for the run.

        ``understood`` (what the reader took it for) is said back at once; the run
        confirms when the change takes effect. ``urgent`` steering (stop, pause, a
        switch) ends the step going on at its next candidate.
        """
        with self._lock:
            self._add(user_message(text))
            if self._pending is not None:
                loop, future = self._pending
                self._pending = None
                self._view.status, self._view.question = "running", None
                loop.call_soon_threadsafe(_settle, future, text)
            else:
                if self._session is not None:
                    self._session.send(text, interrupt=urgent)
                else:
                    self._inbox.append(text)
                said = f"Understood: {escape_markdown(understood)}. " if understood else ""
                self._add(message(said + STEERING_NOTED))

    def say(self, text: str, reply: str) -> None:
        """An exchange beside the run (a greeting, a question answered): it steers nothing."""
        with self._lock:
            self._add(user_message(text))
            self._add(message(reply))

    def snapshot(self) -> RunView:
        """A copy of the run's view, with the budget spent read fresh while it runs."""
        with self._lock:
            if self._session is not None:
                self._read_usage(self._session)
            return copy.deepcopy(self._view)

    # ------------------------------------------------------------ the run's own thread

    def _main(self) -> None:
        try:
            with self._runtime_factory(self._settings) as runtime:
                self._runtime = runtime
                report = asyncio.run(self._pilot(runtime))
        except Exception as exc:  # shown to the person in one line; the log keeps the traceback
            logger.exception("run %s failed", self.run)
            with self._lock:
                self._view.status, self._view.detail = "error", error_text(exc)
                self._view.question = None
                self._add(
                    message(f"⚠️ The run stopped with an error: {escape_markdown(error_text(exc))}")
                )
        else:
            with self._lock:
                self._end(report)
        finally:
            with self._lock:
                self._session = None
                save_view(self._workspace.home, self._view)

    async def _pilot(self, runtime: ModelRuntime) -> dict[str, Any] | None:
        return await run_pilot(
            self._request, runtime, home=self._workspace, run=self.run, embedder=self._embedder,
            on_event=self._on_event, on_message=self._on_message, answer=self._answer,
            on_session=self._on_session, use_planner_model=self._use_planner_model,
        )  # fmt: skip

    def _end(self, report: dict[str, Any] | None) -> None:
        if self._session is not None:
            self._read_usage(self._session)
        self._view.question = None
        if report is None:
            self._view.status = "stopped"
            return
        self._view.status = "finished"
        self._view.take_report(report)
        self._add(message(result_text(report)))
        self._refresh_map(None)

    def _on_session(self, session: RunSession) -> None:
        with self._lock:
            self._session = session
            outcome = session.search.outcome
            if outcome is not None:  # a resumed run: show what it had found
                self._view.trajectory = [
                    ViewEntry.scored(TrajectoryEntry.of(s)) for s in outcome.history
                ]
                self._view.steps = outcome.steps
                self._note_best(session)
            self._view.status = "running"
            self._view.version += 1
            texts, self._inbox = [*self._steer, *self._inbox], []
        for text in texts:
            session.send(text)

    def _on_event(self, event: RunEvent) -> None:
        try:
            with self._lock:
                self._record(event)
                if isinstance(event, StepDone):
                    self._refresh_map(self._session)
                    save_view(self._workspace.home, self._view)
        except Exception:  # the view must never break the run
            logger.exception("run %s: could not update the view", self.run)

    def _record(self, event: RunEvent) -> None:
        session = self._session
        if isinstance(event, CandidateScored):
            self._view.trajectory.append(ViewEntry.scored(event.entry))
            self._note_progress(event.entry, len(self._view.trajectory) - 1)
            if session is not None:
                self._note_best(session)
                self._explain_zero(session)
        elif isinstance(event, Scoring):
            self._note_scoring(event)
        elif isinstance(event, CandidateRejected):
            self._view.rejected.append(Rejected(event.text, event.source, event.violations))
        elif isinstance(event, StepDone):
            self._view.steps = event.step
        self._view.version += 1

    def _note_best(self, session: RunSession) -> None:
        outcome = session.search.outcome
        if outcome is None:
            return
        best, view = outcome.best, self._view
        if best.candidate.text != view.best_prompt or not view.examples:
            view.examples = examples_view(best.dev.examples)
        view.best_prompt, view.best_dev = best.candidate.text, best.score
        rolled_back = getattr(outcome, "rolled_back", ())  # "roll back to N" marks later ones
        view.trajectory = [
            replace(entry, rolled_back=number in rolled_back)
            for number, entry in enumerate(view.trajectory)
        ]

    def _explain_zero(self, session: RunSession) -> None:
        """Once the seed is scored: if it scores (near) zero, say why and offer the fixes."""
        outcome = session.search.outcome
        if outcome is None or self._view.diagnosis is not None or self._zero_checked:
            return
        self._zero_checked = True
        diagnosis = explain_low_score(
            outcome.seed.dev,
            session.splits.train,
            max_tokens=session.runtime.settings.task.max_tokens,
        )
        if diagnosis is not None:
            self._view.diagnosis = diagnosis
            self._add(message(diagnosis_text(diagnosis)))

    def _refresh_map(self, session: RunSession | None) -> None:
        """Recompute the embedding map (in the run's thread: the ZOPO state is read here).

        Called with the lock held; embeddings of scored prompts come from the embedder's memo.
        """
        trajectory = self._view.trajectory
        if not trajectory:
            return
        texts = [trajectory[i].prompt for i in unique_prompts(trajectory)]
        zopo = None if session is None else session.optimizers.get(ZOPO)
        if zopo is not None and hasattr(zopo, "surrogate_view"):
            self._surrogate = zopo.surrogate_view()  # kept: the last one outlives the session
        self._view.map = embedding_map(
            trajectory,
            self._embedder.embed(texts),
            best_prompt=self._view.best_prompt,
            surrogate=self._surrogate,
        )
        self._view.version += 1

    def _on_message(self, msg: AIMessage) -> None:
        text = str(msg.content)
        with self._lock:
            if text in self._asked:  # the pause / ask_user node repeats its question
                self._asked.discard(text)
                return
            if msg.additional_kwargs.get("kind") == ROUTINE or msg.name == "report":
                return  # "Next: gpo" (the step says it); the report (the result text says it)
            node = msg.name or "agent"
            if node in _STEP_NODES:
                self._close_step(text)
            else:
                self._add(agent_message(node, text))

    def _note_progress(self, entry: TrajectoryEntry, number: int) -> None:
        """A scored prompt: one more line in the step's message, shown while the step runs."""
        shown = quote(" ".join(entry.prompt.split()), 160)
        line = f"#{number} · {entry.source} · dev {entry.dev:.3f}: {shown}"
        self._step_lines.append(line)
        best = max(e.dev for e in self._view.trajectory)
        title = f"Scoring new prompts… {len(self._step_lines)} scored in this step, best {best:.3f}"
        self._show_step(title, status="pending")

    def _note_scoring(self, event: Scoring) -> None:
        """A candidate goes to its next block of dev: the step's message says where it is."""
        self._racing[event.candidate] = (
            f"candidate {event.candidate} of {event.candidates}, up to {event.examples} of "
            f"{event.of} dev examples: {quote(' '.join(event.prompt.split()), 120)}"
        )
        self._show_step(f"Scoring new prompts… {event.where}", "pending")

    def _close_step(self, text: str) -> None:
        """The step's own sentence becomes its title; expanding it shows its prompts."""
        self._step_number += 1
        self._show_step(f"Step {self._step_number}. {text}", "done")
        self._step_at, self._step_lines, self._racing = None, [], {}

    def _show_step(self, title: str, status: str) -> None:
        lines = self._step_lines or [self._racing[n] for n in sorted(self._racing)]
        body = "\n".join(f"- {line}" for line in lines) or "No new prompt was scored."
        msg = message(body, title=escape_markdown(title))
        msg["metadata"]["status"] = status
        if self._step_at is None:
            self._step_at = len(self._view.messages)
            self._add(msg)
        else:
            self._view.messages[self._step_at] = msg
            self._view.version += 1

    async def _answer(self, question: str) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        with self._lock:
            self._pending = (loop, future)
            self._asked.add(question)
            self._view.status, self._view.question = "waiting", question
            self._add(message(escape_markdown(question) + "\n\n*(your next message answers)*"))
            save_view(self._workspace.home, self._view)
        return await future

    def _add(self, msg: dict[str, Any]) -> None:
        self._view.messages.append(msg)
        self._view.version += 1

    def _read_usage(self, session: RunSession) -> None:
        search = session.search
        outcome = search.outcome
        self._view.used = Used(
            queries=outcome.queries if outcome else 0,
            calls=search.calls,
            seconds=round(search.seconds, 1),
        )
        self._view.limits = from_fields(Limits, asdict(search.budget))
        runtime = self._runtime
        if runtime is not None and runtime.task is not None and runtime.optimizer is not None:
            self._view.usage = {
                "task": runtime.task.usage.snapshot(),
                "optimizer": runtime.optimizer.usage.snapshot(),
            }


def _settle(future: asyncio.Future[str], text: str) -> None:
    if not future.done():
        future.set_result(text)
