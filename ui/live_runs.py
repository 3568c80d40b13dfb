"""The runs of this process by id: what makes a reloaded page find its run again.

Each is a :class:`~ui.live_run.LiveRun`; runs that are not live here (finished, or
started elsewhere) are seen through their saved views and records.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.llm.runtime import RuntimeSettings
from agent.llm.shared_runtime import SharedServer, SharedServerRuntime
from agent.run.request import OptimizeRequest, new_run_id
from agent.run.workspace import Workspace
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from ui.live_run import ACTIVE, LiveRun, RuntimeFactory, is_run_id
from ui.panels.embedding_map import embedding_map, unique_prompts
from ui.panels.run_view import RunView
from ui.panels.stored_view import load_view, view_from_record, view_path

logger = logging.getLogger(__name__)


class LiveRuns:
    """The runs of this process by id, and the views of past runs from the registry."""

    def __init__(
        self,
        home: Path | Workspace,
        defaults: RuntimeSettings,
        *,
        shared: SharedServer | None = None,
        runtime_factory: RuntimeFactory | None = None,
        embedder: Embedder | None = None,
        use_planner_model: bool | None = None,
    ) -> None:
        self.workspace = Workspace.of(home)
        self.home = self.workspace.home  # local by nature: uploads, views, downloads
        self.defaults = defaults
        self.shared = shared or SharedServer()
        self._factory = runtime_factory or (
            lambda s: SharedServerRuntime(s, self.shared, database=self.workspace.database)
        )
        self._embedder = embedder
        self._use_planner_model = use_planner_model
        self._runs: dict[str, LiveRun] = {}
        self._stored: dict[str, tuple[float, RunView]] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the embedding model in the background, so the first run does not wait for it."""
        threading.Thread(target=lambda: self.embedder.dim, name="warm-up", daemon=True).start()

    @property
    def embedder(self) -> Embedder:
        """One embedder for every run (it is thread-safe and loads its model once)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = SentenceTransformerEmbedder.bundled()
            return self._embedder

    def _launch(
        self,
        run: str,
        request: OptimizeRequest | None,
        settings: RuntimeSettings,
        view: RunView,
        steer: Sequence[str],
    ) -> LiveRun:
        live = LiveRun(
            run, request, settings=settings, workspace=self.workspace, embedder=self.embedder,
            runtime_factory=self._factory, view=view, steer=steer,
            use_planner_model=self._use_planner_model,
        )  # fmt: skip
        with self._lock:
            self._runs[run] = live
        return live.start()

    def start(
        self,
        request: OptimizeRequest,
        settings: RuntimeSettings,
        *,
        opening: Sequence[dict[str, Any]] = (),
        steer: Sequence[str] = (),
    ) -> LiveRun:
        """Start a new run; ``opening`` messages begin its chat, ``steer`` texts go first."""
        run = new_run_id(request)
        view = RunView.new(run, request.config(), list(opening))
        return self._launch(run, request, settings, view, steer)

    def resume(
        self, run: str, settings: RuntimeSettings, *, opening: Sequence[dict[str, Any]] = ()
    ) -> LiveRun:
        """Continue ``run`` from its checkpoint (or return it if it is running here already)."""
        live = self.get(run)
        if live is not None and not live.done:
            return live
        if not is_run_id(run):
            raise ValueError(f"not a run id: {run!r}")
        record = self.workspace.runs.load(run)  # ValueError naming the run if unknown
        earlier = load_view(self.home, run) or view_from_record(record)
        view = RunView.new(run, record.get("request") or {}, [*earlier.messages, *opening])
        return self._launch(run, None, settings, view, ())

    def get(self, run: str) -> LiveRun | None:
        """The live run with this id, if this process started it."""
        with self._lock:
            return self._runs.get(run)

    def view(self, run: str) -> RunView | None:
        """The view of ``run``: live, saved by the app, or made from its record; None if unknown."""
        if not is_run_id(run):
            return None
        live = self.get(run)
        if live is not None:
            return live.snapshot()
        path = view_path(self.home, run)
        stamp = path.stat().st_mtime if path.exists() else 0.0
        cached = self._stored.get(run)
        if cached is not None and cached[0] == stamp:
            return copy.deepcopy(cached[1])
        view = load_view(self.home, run)
        if view is None:
            try:
                view = view_from_record(self.workspace.runs.load(run))
            except ValueError:
                return None
        if view.status in ACTIVE:  # its process is gone: it can only be resumed
            view.status, view.question = "stopped", None
        if view.map is None and view.trajectory:
            trajectory = view.trajectory
            texts = [trajectory[i].prompt for i in unique_prompts(trajectory)]
            view.map = embedding_map(
                trajectory, self.embedder.embed(texts), best_prompt=view.best_prompt
            )
        self._stored[run] = (stamp, view)
        return copy.deepcopy(view)

    def close(self) -> None:
        """Stop the shared server (the app is closing).

        Runs still going are left as their last checkpoint has them (they are not told
        to stop: that would spend the end of the app on test scoring); the next app
        shows them as stopped, and *resume* continues them.
        """
        self.shared.stop()
        self.workspace.close()
