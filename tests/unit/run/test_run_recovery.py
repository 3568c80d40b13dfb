"""Runs stopped by their endpoint, or killed before their first checkpoint, finish on resume."""

from __future__ import annotations

import re

import httpx
import openai
import pytest

from agent.graph.pilot import run_pilot
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from agent.run.workspace import Workspace
from memory.response_cache import ResponseCache
from memory.run_registry import FolderRegistry
from memory.step_store import SqliteStepStore
from optimizers.evaluation.chat_calls import ChatCaller, EndpointUnavailable
from tests.fakes import fake_backend
from tests.unit.graph_fixtures import fake_runtime, request_for, write_items
from tests.unit.optimizer_fixtures import sentiment_task_model


@pytest.fixture
def data_file(tmp_path):
    return write_items(tmp_path / "items.jsonl")


class Flaky:
    """The fake task model, down (HTTP 503) from its ``down_after``-th call until fixed."""

    def __init__(self, down_after: int) -> None:
        self.calls = 0
        self.down_after = down_after
        self.fixed = False

    def __call__(self, message: str) -> str:
        self.calls += 1
        if not self.fixed and self.calls >= self.down_after:
            request = httpx.Request("POST", "http://fake/v1/chat/completions")
            response = httpx.Response(503, request=request)
            raise openai.InternalServerError("Error code: 503", response=response, body=None)
        return sentiment_task_model(message)


def runtime_with(task_rule, home):
    """The fake runtime with ``task_rule`` as task model, caching under ``home``."""
    runtime = fake_runtime()
    cache = ResponseCache(home / "cache.sqlite")
    runtime.task = ChatCaller(fake_backend(task_rule), cache)
    runtime.optimizer = ChatCaller(runtime.optimizer.backend, cache)
    return runtime


def essentials(report):
    trajectory = [(e["source"], e["prompt"], e["dev"]) for e in report["trajectory"]]
    return report["best_prompt"], report["scores"], trajectory


async def pilot(request, runtime, home, embedder, run="r"):
    return await run_pilot(
        request, runtime, home=home, run=run, embedder=embedder, use_planner_model=False
    )


async def test_an_outage_stops_the_agent_run_and_resume_finishes_it(
    data_file, tmp_path, bundled_embedder
):
    request = request_for(data_file, budget=8)
    healthy = Flaky(down_after=10**9)
    ref = tmp_path / "ref"
    expected = await pilot(request, runtime_with(healthy, ref), ref, bundled_embedder)

    flaky = Flaky(down_after=20)
    home = tmp_path / "home"
    with pytest.raises(EndpointUnavailable) as stopped:
        await pilot(request, runtime_with(flaky, home), home, bundled_embedder)
    record = FolderRegistry(home).load("r")
    assert record["status"] == "stopped: endpoint unavailable"
    assert "promptpilot runs resume r" in "\n".join(stopped.value.__notes__)
    assert "report" not in record

    flaky.fixed = True
    before = flaky.calls
    report = await pilot(None, runtime_with(flaky, home), home, bundled_embedder)
    assert essentials(report) == essentials(expected)
    assert flaky.calls - before == healthy.calls - 19  # the 19 answers before the outage kept
    record = FolderRegistry(home).load("r")
    assert record["status"] == "finished"
    assert record["error"] is None


async def test_a_run_killed_before_its_first_checkpoint_starts_again_from_its_record(
    data_file, tmp_path, bundled_embedder
):
    request = request_for(data_file, budget=6)
    home = tmp_path / "home"
    FolderRegistry(home).record("r", status="running", optimizer="auto", request=request.config())
    assert not Workspace.of(home).checkpoint_file.exists()
    report = await pilot(None, fake_runtime(), home, bundled_embedder)
    expected = await pilot(request, fake_runtime(), tmp_path / "ref", bundled_embedder)
    assert essentials(report) == essentials(expected)


async def test_resuming_an_unknown_run_is_a_clear_error(tmp_path, bundled_embedder):
    with pytest.raises(ValueError, match="no run 'nope'"):
        await pilot(None, fake_runtime(), tmp_path, bundled_embedder, run="nope")


def single(data_file) -> OptimizeRequest:
    base = request_for(data_file, budget=12)  # random search: 11 steps, 120 task calls
    return OptimizeRequest.from_config({**base.config(), "optimizer": "random"})


async def test_a_single_optimizer_run_is_checkpointed_and_resumes_where_it_stopped(
    data_file, tmp_path, bundled_embedder
):
    request = single(data_file)
    healthy = Flaky(down_after=10**9)
    ref = tmp_path / "ref"
    reference = await run_optimize(
        request, runtime_with(healthy, ref), home=ref, run="g", embedder=bundled_embedder
    )
    home = tmp_path / "home"
    flaky = Flaky(down_after=70)
    with pytest.raises(EndpointUnavailable):
        await run_optimize(
            request, runtime_with(flaky, home), home=home, run="g", embedder=bundled_embedder
        )
    assert FolderRegistry(home).load("g")["status"] == "stopped: endpoint unavailable"
    saved = SqliteStepStore(Workspace.of(home).checkpoint_file).load("g")
    assert saved is not None
    assert saved.optimizer == "random"
    assert saved.payload["search"]["steps"] >= 1  # stopped after at least one full step

    flaky.fixed = True
    before = flaky.calls
    resumed = await run_optimize(
        request, runtime_with(flaky, home), home=home, run="g", embedder=bundled_embedder
    )
    assert essentials(resumed.to_dict()) == essentials(reference.to_dict())
    assert flaky.calls - before == healthy.calls - 69  # the 69 answers before the outage kept
    # Resumed from the checkpoint: the saved steps' scores were read back from the cache.
    dev_size = 8  # request_for's split
    assert resumed.usage["task"].cache_hits >= dev_size * saved.payload["search"]["queries"]
    assert FolderRegistry(home).load("g")["status"] == "running"  # the CLI records "finished"


async def test_step_checkpoints_are_absent_before_the_first_step(tmp_path):
    checkpoints = SqliteStepStore(tmp_path / "checkpoints.sqlite")
    assert checkpoints.load("nothing") is None


async def test_a_run_id_cannot_be_reused_for_another_single_optimizer_request(
    data_file, tmp_path, bundled_embedder
):
    request = single(data_file)
    home = tmp_path / "home"
    await run_optimize(request, fake_runtime(), home=home, run="g", embedder=bundled_embedder)
    other = OptimizeRequest.from_config({**request.config(), "prompt": "Something else."})
    with pytest.raises(ValueError, match="already exists with another request"):
        await run_optimize(other, fake_runtime(), home=home, run="g", embedder=bundled_embedder)
    record = FolderRegistry(home).load("g")
    assert record["request"]["prompt"] == request.prompt  # the record is intact


def chatty_task_model(message: str) -> str:
    """Sentences with the right label in them, unless the prompt names the labels."""
    item = int(re.findall(r"item (\d+)", message)[-1])
    truth = "positive" if item % 2 == 0 else "negative"
    if "exactly one of" in message:
        return truth
    return f"This review is {truth}, I would say, after reading it."


async def test_a_seed_scoring_zero_on_sentences_is_diagnosed_in_the_report(
    data_file, tmp_path, bundled_embedder
):
    request = single(data_file)
    runtime = runtime_with(chatty_task_model, tmp_path)
    report = (
        await run_optimize(request, runtime, home=tmp_path, run="z", embedder=bundled_embedder)
    ).to_dict()
    assert report["scores"]["initial"]["dev"]["mean"] == 0.0
    diagnosis = report["diagnosis"]
    assert diagnosis["cause"] == "sentences"
    assert diagnosis["fixes"][0]["value"] == "Answer with exactly one of: negative, positive."
    assert [fix["kind"] for fix in diagnosis["fixes"]] == ["output_spec", "metric"]


async def test_a_seed_that_scores_needs_no_diagnosis(data_file, tmp_path, bundled_embedder):
    request = single(data_file)
    report = await run_optimize(
        request, fake_runtime(), home=tmp_path, run="y", embedder=bundled_embedder
    )
    assert report.to_dict()["diagnosis"] is None
