"""The graph's checkpointer under contention: a run waits for another writer."""

from __future__ import annotations

import threading
import time

import pytest

from agent.graph.pilot import run_pilot
from agent.run.workspace import Workspace
from memory.sqlite_wal import connect
from tests.unit.graph_fixtures import ScriptedPlanner, fake_runtime, request_for, write_items

HOLD_S = 6.5  # longer than sqlite's default 5 s busy timeout


@pytest.mark.slow
async def test_a_run_waits_for_another_writer_longer_than_sqlites_default(
    tmp_path, bundled_embedder
):
    home = tmp_path / "home"
    path = Workspace.of(home).checkpoint_file
    locked, released = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:  # as a slow writer in another run does
        holder = connect(path)
        holder.execute("CREATE TABLE other_run (x)")
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO other_run VALUES (1)")
        locked.set()
        time.sleep(HOLD_S)
        holder.execute("COMMIT")
        holder.close()
        released.set()

    threading.Thread(target=hold_the_write_lock, daemon=True).start()
    assert locked.wait(10)
    started = time.monotonic()
    report = await run_pilot(
        request_for(write_items(tmp_path / "items.jsonl"), budget=6),
        fake_runtime(),
        home=home,
        embedder=bundled_embedder,
        planner=ScriptedPlanner(["evaluate", "report", "finish"]),
    )
    assert released.is_set()
    assert time.monotonic() - started >= HOLD_S - 0.5  # it really waited for the lock
    assert report is not None
