"""The PostgreSQL stores against a real server: same contract as the local ones."""

from __future__ import annotations

import multiprocessing
import time

import psycopg
import pytest

from memory.postgres.connection import StoreError
from memory.postgres.database import Database
from memory.postgres.responses import PostgresResponseCache
from memory.postgres.runs import PostgresRegistry
from memory.postgres.steps import PostgresStepStore
from memory.response_cache import CachedResponse
from memory.run_registry import RunBusy
from tests.integration.postgres_server import PASSWORD

pytestmark = pytest.mark.integration


@pytest.fixture
def database(store_url: str):
    db = Database(store_url)
    yield db
    db.close()


def test_runs_are_recorded_updated_and_listed_newest_first(database: Database) -> None:
    runs = PostgresRegistry(database)
    runs.record("a", status="running", request={"prompt": "p", "budget": [1, None]})
    runs.record("a", status="finished")
    runs.write_report("a", {"run": "a", "best_prompt": "q", "scores": {"x": 0.5}})
    record = runs.load("a")
    assert record["status"] == "finished"
    assert record["request"] == {"prompt": "p", "budget": [1, None]}
    assert record["report"]["scores"] == {"x": 0.5}
    assert list(record)[:2] == ["run", "created"]  # stored as written, keys in order
    assert record["store"].startswith("postgresql://promptpilot:***@")  # no password
    assert PASSWORD not in record["store"]
    runs.record("b", status="running")
    runs.record("c", status="running")
    assert {r["run"] for r in runs.list()} == {"a", "b", "c"}
    assert runs.has("b")
    assert not runs.has("z")
    with pytest.raises(ValueError, match="no run 'z' in postgresql://promptpilot:\\*\\*\\*@"):
        runs.load("z")


def test_a_report_written_before_its_record_is_kept(database: Database) -> None:
    runs = PostgresRegistry(database)
    runs.write_report("early", {"run": "early"})
    runs.record("early", status="finished")
    assert runs.load("early")["report"] == {"run": "early"}


def _hold_lease(url: str, held) -> None:
    db = Database(url)
    with PostgresRegistry(db).lease("r"):
        held.set()
        time.sleep(120)  # killed by the test long before


def test_a_run_leased_by_another_process_is_refused_until_it_dies(store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    held = context.Event()  # no event is touched after the kill: it may hold their locks
    holder = context.Process(target=_hold_lease, args=(store_url, held))
    holder.start()
    db = Database(store_url)
    try:
        assert held.wait(60)
        runs = PostgresRegistry(db)
        with (
            pytest.raises(RunBusy, match="run r is already running in another process") as busy,
            runs.lease("r"),
        ):
            pass
        assert PASSWORD not in str(busy.value)
        with runs.lease("another"):
            pass
        holder.kill()  # kill -9: PostgreSQL ends its session, and the lock with it
        holder.join(30)
        for _ in range(50):  # the server notices the closed socket within moments
            try:
                with runs.lease("r"):
                    break
            except RunBusy:
                time.sleep(0.1)
        else:
            pytest.fail("the lease of a killed process was never released")
    finally:
        holder.kill()
        holder.join(5)
        db.close()


def test_step_checkpoints_are_replaced_and_read_back(database: Database) -> None:
    steps = PostgresStepStore(database)
    assert steps.load("g") is None
    steps.save("g", "random", {"search": {"steps": 1}, "optimizer": {}})
    steps.save("g", "random", {"search": {"steps": 2}, "optimizer": {"k": [1]}})
    saved = steps.load("g")
    assert saved is not None
    assert (saved.optimizer, saved.payload["search"]["steps"]) == ("random", 2)


def test_an_answer_stored_by_one_process_is_a_hit_for_another(store_url: str) -> None:
    first, second = PostgresResponseCache.open(store_url), PostgresResponseCache.open(store_url)
    try:
        assert second.get("k") is None
        first.put("k", CachedResponse("positive", 12, 1))
        second.put("k", CachedResponse("other", 1, 1))  # the first answer wins
        assert second.get("k") == CachedResponse("positive", 12, 1)
        assert len(second) == 1
    finally:
        first.close()
        second.close()


def test_a_database_of_a_newer_schema_is_refused_clearly(store_url: str) -> None:
    Database(store_url).close()
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("UPDATE promptpilot_schema SET version = 99")
    with pytest.raises(StoreError, match="schema version 99, made by a newer PromptPilot") as err:
        Database(store_url)
    assert PASSWORD not in str(err.value)


def test_a_wrong_password_is_a_clear_error_that_does_not_echo_it(store_url: str) -> None:
    wrong = store_url.replace(PASSWORD, "not-the-password")
    with pytest.raises(StoreError, match="cannot use the PostgreSQL store at") as err:
        Database(wrong)
    assert "not-the-password" not in str(err.value)
    assert "password authentication failed" in str(err.value)


def test_a_process_opens_one_pool_on_the_store_for_runs_checkpoints_and_cache(
    store_url: str, tmp_path, monkeypatch
) -> None:
    from agent.llm.runtime import ModelRuntime, RuntimeSettings
    from agent.run.workspace import StoreSettings, Workspace
    from memory.postgres import database

    pools = []

    class CountedPool(database.ConnectionPool):
        def __init__(self, *args, **kwargs) -> None:
            pools.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(database, "ConnectionPool", CountedPool)
    settings = RuntimeSettings(cache_path=tmp_path / "unused.sqlite", store_url=store_url)
    with Workspace(StoreSettings(home=tmp_path, store_url=store_url)) as workspace:
        runtime = ModelRuntime(settings, roles=(), database=workspace.database)
        try:
            runtime.cache.put("k", CachedResponse("answer", 1, 1))
            workspace.runs.record("r", status="running")
        finally:
            runtime.stop()
        assert workspace.runs.load("r")["status"] == "running"  # stopping it left the pool open
        assert runtime.cache.get("k") == CachedResponse("answer", 1, 1)
    assert len(pools) == 1  # the cache used the workspace's pool
    assert not (tmp_path / "unused.sqlite").exists()
