"""The folder run registry: records, reports, and one process per run."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from memory.run_registry import FolderRegistry, RunBusy


def test_a_record_is_updated_field_by_field_and_listed_newest_first(tmp_path: Path) -> None:
    runs = FolderRegistry(tmp_path)
    runs.record("a", status="running", request={"prompt": "p"})
    runs.record("a", status="finished")
    runs.write_report("a", {"run": "a", "best_prompt": "q"})
    record = runs.load("a")
    assert (record["status"], record["request"], record["report"]["best_prompt"]) == (
        "finished", {"prompt": "p"}, "q",
    )  # fmt: skip
    assert record["store"] == str(tmp_path / "runs")  # which store the run lives in
    assert runs.has("a")
    assert not runs.has("b")
    with pytest.raises(ValueError, match=r"no run 'b'.*recent: a"):
        runs.load("b")


def test_a_leased_run_is_refused_to_a_second_holder_and_free_after(tmp_path: Path) -> None:
    runs = FolderRegistry(tmp_path)
    with runs.lease("r"):
        with (
            pytest.raises(RunBusy, match="run r is already running in another process"),
            runs.lease("r"),
        ):
            pass
        with runs.lease("other"):  # another run is not affected
            pass
    with runs.lease("r"):  # released when the block ends
        pass


def _hold(home: str, held) -> None:
    with FolderRegistry(Path(home)).lease("r"):
        held.set()
        time.sleep(120)  # killed by the test long before


def test_a_lease_held_by_another_process_is_refused_until_that_process_dies(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    held = context.Event()  # no event is touched after the kill: it may hold their locks
    holder = context.Process(target=_hold, args=(str(tmp_path), held))
    holder.start()
    try:
        assert held.wait(60)
        with pytest.raises(RunBusy), FolderRegistry(tmp_path).lease("r"):
            pass
        holder.kill()  # as kill -9: the lock goes with the process
        holder.join(30)
        with FolderRegistry(tmp_path).lease("r"):
            pass
    finally:
        holder.kill()
        holder.join(5)
