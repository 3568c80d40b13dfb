"""Runs in background threads, seen through their views (fake models, real graph)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from agent.graph.pilot import run_pilot
from agent.llm.local_server import ServerSettings, bundled_model_path
from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import ModelSettings
from agent.llm.shared_runtime import SharedServerRuntime
from tests.unit.graph_fixtures import fake_live_runs, fake_runtime, request_for, write_items
from ui.live_run import STEERING_NOTED
from ui.live_runs import LiveRuns
from ui.panels.inspect import status_line
from ui.panels.stored_view import view_path


@pytest.fixture
def data_file(tmp_path):
    return write_items(tmp_path / "items.jsonl")


@pytest.fixture
def runs(tmp_path, bundled_embedder):
    registry = fake_live_runs(tmp_path / "home", bundled_embedder)
    yield registry
    registry.close()


def wait_for(live, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = live.snapshot()
        if condition(view):
            return view
        time.sleep(0.05)
    raise AssertionError(f"timed out; last view status {live.snapshot().status}")


def texts(view, role):
    return [m["content"] for m in view.messages if m["role"] == role]


def test_a_run_goes_on_in_its_thread_pauses_for_the_person_and_finishes(runs, data_file):
    opening = [{"role": "user", "content": "Answer the question\\."}]
    live = runs.start(request_for(data_file, budget=2), RuntimeSettings(), opening=opening)
    live.send("pause")  # before the session exists: delivered when it does
    view = wait_for(live, lambda v: v.status == "waiting")
    assert status_line(view) == "paused"
    assert "your next message answers" in view.messages[-1]["content"]
    live.send("resume")
    assert live.join(60)

    view = runs.view(live.run)
    assert view.status == "finished"
    assert view.run == live.run
    assert texts(view, "user") == ["Answer the question\\.", "pause", "resume"]
    contents = [m["content"] for m in view.messages]
    # acknowledged at once, before the run gets to it
    assert contents[contents.index("pause") + 1] == STEERING_NOTED
    assert view.trajectory[0].source == "seed"
    assert [entry.to_json() for entry in view.trajectory] == view.report["trajectory"]
    assert view.used.queries == view.report["dev_queries"] <= 2
    assert view.usage["task"].calls > 0
    scores = [e.score for e in view.examples]
    assert scores == sorted(scores)
    assert len(scores) == 8
    assert len(view.map.xy) == len({e.prompt for e in view.trajectory})
    titles = [m.get("metadata", {}).get("title", "") for m in view.messages]
    assert any(t.startswith("Step 1\\. Your prompt scores") for t in titles)  # escaped too
    steps = [m for m in view.messages if m.get("metadata", {}).get("title", "").startswith("Step")]
    assert steps[0]["content"].startswith("- #0 · seed · dev ")  # expands to its prompts
    assert all(m["metadata"]["status"] == "done" for m in steps)
    assert not any("Next\\:" in t for t in titles)  # the policy's routine lines stay out
    assert "held-out **test** split" in view.messages[-1]["content"]
    # the question is shown once, not again when the pause node reports it
    assert sum("Paused before" in m["content"] for m in view.messages) == 1
    saved = json.loads(view_path(runs.home, live.run).read_text(encoding="utf-8"))
    assert saved["status"] == "finished"
    assert saved["report"] == view.report
    assert saved == json.loads(json.dumps(view.to_json()))


def test_an_unreachable_endpoint_is_a_chat_message_not_a_traceback(tmp_path, free_port):
    nowhere = ModelSettings(base_url=f"http://127.0.0.1:{free_port}/v1", model="m")
    settings = RuntimeSettings(task=nowhere, optimizer=nowhere)
    runs = LiveRuns(tmp_path / "home", settings)
    request = request_for(write_items(tmp_path / "items.jsonl"))
    live = runs.start(request, settings)
    assert live.join(30)
    view = runs.view(live.run)
    assert view.status == "error"
    assert f"cannot reach the LLM endpoint at http://127.0.0.1:{free_port}/v1" in view.detail
    assert status_line(view).startswith("error: cannot reach")
    assert "Traceback" not in json.dumps(view.to_json())
    assert "cannot reach" in view.messages[-1]["content"]
    assert not runs.shared.running  # no role was embedded: the shared server never started


def test_a_waiting_run_from_an_earlier_process_is_stopped_and_resumes(
    runs, data_file, bundled_embedder
):
    # an earlier process paused the run and went away without answering
    request = request_for(data_file, budget=2, directives=("keep it under 9 words",))
    report = await_pilot(request, runs, bundled_embedder)
    assert report is None
    (record_run,) = [p.parent.name for p in (runs.home / "runs").glob("*/run.json")]
    view = runs.view(record_run)
    assert view.status == "stopped"  # nothing here is running it: it can only be resumed

    live = runs.resume(record_run, RuntimeSettings())
    assert runs.resume(record_run, RuntimeSettings()) is live  # one thread per run
    wait_for(live, lambda v: v.status == "waiting")
    live.send("resume")
    assert live.join(60)
    view = runs.view(record_run)
    assert view.status == "finished"
    assert view.report["directives"] == ["keep it under 9 words"]


def await_pilot(request, runs, embedder):
    def pause_first(session):
        session.send("pause")

    return asyncio.run(
        run_pilot(
            request,
            fake_runtime(),
            home=runs.home,
            embedder=embedder,
            on_session=pause_first,
            use_planner_model=False,
        )
    )


def test_runs_share_one_embedded_server_and_leave_it_running(tmp_path):
    class Server:
        base_url = "http://127.0.0.1:9/v1"
        stopped = False

        def stop(self):
            self.stopped = True

    class Shared:
        settings = ServerSettings()
        calls = 0

        def get(self):
            self.calls += 1
            return server

    server, shared = Server(), Shared()
    for _ in range(2):
        with SharedServerRuntime(RuntimeSettings(cache_path=tmp_path / "c.sqlite"), shared) as rt:
            identity = rt.task.backend.identity
            assert identity["base_url"] == f"embedded:{bundled_model_path().name}"  # cache key
            assert rt.optimizer.backend.model.openai_api_base == server.base_url
    assert shared.calls == 2
    assert not server.stopped
