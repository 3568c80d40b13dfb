"""A run that fails says so in the run list (it used to stay ``running`` for ever)."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from agent.graph.pilot import run_pilot
from agent.run.single import run_optimize
from memory.run_registry import FolderRegistry
from optimizers.evaluation.chat_calls import EndpointUnavailable
from optimizers.tasks import DataError
from tests.unit.graph_fixtures import ScriptedPlanner, fake_runtime, request_for, write_items


class BrokenPlanner(ScriptedPlanner):
    def __init__(self, exc: Exception) -> None:
        super().__init__([])
        self.exc = exc

    async def structured(self, messages, schema, *, sample=0):
        raise self.exc


def only_record(home):
    (record,) = FolderRegistry(home).list()
    return record


async def test_a_pilot_failing_mid_run_is_recorded_as_an_error(tmp_path, bundled_embedder):
    home = tmp_path / "home"
    with pytest.raises(sqlite3.OperationalError):
        await run_pilot(
            request_for(write_items(tmp_path / "items.jsonl"), budget=6), fake_runtime(),
            home=home, embedder=bundled_embedder,
            planner=BrokenPlanner(sqlite3.OperationalError("database is locked")),
        )  # fmt: skip
    record = only_record(home)
    assert record["status"] == "error"
    assert record["error"] == "OperationalError: database is locked"


async def test_a_pilot_stopped_by_its_endpoint_stays_resumable(tmp_path, bundled_embedder):
    home = tmp_path / "home"
    with pytest.raises(EndpointUnavailable):
        await run_pilot(
            request_for(write_items(tmp_path / "items.jsonl"), budget=6), fake_runtime(),
            home=home, embedder=bundled_embedder,
            planner=BrokenPlanner(EndpointUnavailable("the endpoint is down")),
        )  # fmt: skip
    assert only_record(home)["status"] == "stopped: endpoint unavailable"


@pytest.mark.parametrize("optimizer", ["auto", "random"])
async def test_a_run_failing_while_it_opens_is_recorded_as_an_error(
    optimizer, tmp_path, bundled_embedder
):
    home = tmp_path / "home"
    request = dataclasses.replace(
        request_for(tmp_path / "gone.jsonl"), optimizer=optimizer, prompt="Say yes."
    )
    start = run_pilot if optimizer == "auto" else run_optimize
    with pytest.raises(DataError, match=r"gone\.jsonl"):
        await start(request, fake_runtime(), home=home, embedder=bundled_embedder)
    record = only_record(home)
    assert record["status"] == "error", record
    assert record["error"].startswith("DataError: ")
