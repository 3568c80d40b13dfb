"""Two PromptPilot processes on separate homes sharing PostgreSQL and a Chroma server.

Real servers on 127.0.0.1: a throwaway PostgreSQL cluster (runs, checkpoints,
response cache), ``chroma run`` (prompt memory) and the embedded llama.cpp
server behind a counting proxy, which sees every paid call of every process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from memory.prompt_store import PromptStore
from optimizers.evaluation.concurrency import LimitPolicy
from tests.integration.agent_process import ROOT, command, environment, optimize_args
from tests.integration.chroma_server import ChromaServer
from tests.integration.counting_proxy import CountingProxy
from tests.integration.postgres_server import PASSWORD
from tests.integration.shared_store_worker import marker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARGS = optimize_args("auto", budget=6)
EXIT_STORE = 4


@pytest.fixture
def memory_url(tmp_path: Path, free_port: int) -> Iterator[str]:
    server = ChromaServer(tmp_path / "chroma", free_port, tmp_path / "chroma.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def shared(store_url: str, memory_url: str) -> list[str]:
    return ["--store", store_url, "--memory", memory_url]


def run(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def essentials(report: dict) -> dict:
    return {
        "best_prompt": report["best_prompt"],
        "scores": report["scores"],
        "trajectory": [(e["source"], e["prompt"], e["dev"]) for e in report["trajectory"]],
    }


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_run_killed_in_one_process_resumes_in_the_other_paying_nothing_twice(
    proxy: CountingProxy, tmp_path: Path, store_url: str, memory_url: str
) -> None:
    env = environment(proxy)
    reference = run(*ARGS, "--home", str(tmp_path / "ref"), "--run-id", "ref", "--json", env=env)
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected, reference_calls = json.loads(reference.stdout), proxy.count()

    # Process A (home a) starts the run on the shared store; killed -9 half-way.
    before = proxy.count()
    victim = subprocess.Popen(
        command(*ARGS, "--home", str(tmp_path / "a"), *shared(store_url, memory_url),
                "--run-id", "team-run", "--json"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    wait_for(lambda: proxy.count() - before >= reference_calls // 2 or victim.poll() is not None,
             600, "half of the run's calls")  # fmt: skip
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    killed_at = time.monotonic()
    in_flight = sum(1 for c in proxy.calls[before:] if c.finished is None or c.finished > killed_at)

    # Process B, another home, sees the run and finishes it.
    listed = run("runs", "list", "--home", str(tmp_path / "b"), "--store", store_url, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "team-run" in listed.stdout
    assert "running" in listed.stdout
    assert PASSWORD not in listed.stdout + listed.stderr
    resumed = run("runs", "resume", "team-run", "--home", str(tmp_path / "b"),
                  *shared(store_url, memory_url), "--json", env=env)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert essentials(json.loads(resumed.stdout)) == essentials(expected)
    # Nothing finished before the kill is paid again; only requests cut off in flight.
    assert proxy.count() - before - reference_calls <= in_flight <= LimitPolicy.auto().ceiling
    assert not (tmp_path / "a" / "checkpoints.sqlite").exists()  # it all went to the store
    assert not (tmp_path / "b" / "cache.sqlite").exists()

    # A third home asks for the same run under another id: every answer is a cache hit.
    before = proxy.count()
    again = run(*ARGS, "--home", str(tmp_path / "c"), *shared(store_url, memory_url),
                "--run-id", "again", "--json", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert proxy.count() == before
    assert essentials(json.loads(again.stdout)) == essentials(expected)
    shown = run("runs", "show", "team-run", "--home", str(tmp_path / "c"), "--store", store_url,
                "--json", env=env)  # fmt: skip
    assert json.loads(shown.stdout)["status"] == "finished"


def test_a_run_live_in_one_process_is_refused_to_the_other(
    proxy: CountingProxy, tmp_path: Path, store_url: str, memory_url: str
) -> None:
    env = environment(proxy)
    live = subprocess.Popen(
        command(*optimize_args("random", budget=40), "--home", str(tmp_path / "a"),
                *shared(store_url, memory_url), "--run-id", "busy"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        before = proxy.count()
        wait_for(lambda: proxy.count() > before + 2, 300, "the first process to be working")
        second = run("runs", "resume", "busy", "--home", str(tmp_path / "b"),
                     *shared(store_url, memory_url), env=env, timeout=300)  # fmt: skip
        assert second.returncode == EXIT_STORE, second.stderr
        assert "run busy is already running in another process" in second.stderr
        assert "Traceback" not in second.stderr
        assert PASSWORD not in second.stderr
        assert live.poll() is None  # the first process goes on, undisturbed
    finally:
        live.kill()
        live.wait(timeout=30)


def test_ten_concurrent_runs_across_two_processes_keep_every_store_consistent(
    proxy: CountingProxy, tmp_path: Path, store_url: str, memory_url: str, bundled_embedder
) -> None:
    env = environment(proxy)

    def worker(home: str, first: int) -> subprocess.Popen:
        module = "tests.integration.shared_store_worker"
        args = [str(tmp_path / home), store_url, memory_url, str(first), "5"]
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )  # fmt: skip

    workers = [worker("a", 0), worker("b", 5)]
    finished = []
    for worker in workers:
        out, err = worker.communicate(timeout=1500)
        assert worker.returncode == 0, err[-3000:]
        finished += [json.loads(line) for line in out.splitlines()]
    assert sorted(f["number"] for f in finished) == list(range(10))
    runs = {f["run"] for f in finished}
    assert len(runs) == 10

    with psycopg.connect(store_url, autocommit=True) as conn:
        rows = conn.execute("SELECT run, record, report FROM promptpilot_runs").fetchall()
        steps = {r[0] for r in conn.execute("SELECT run FROM promptpilot_step_checkpoints")}
        keys = conn.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM promptpilot_responses")
        total, distinct = keys.fetchone()
    records = {run: (json.loads(record), json.loads(report)) for run, record, report in rows}
    assert set(records) == runs
    for run_id, (record, report) in records.items():
        assert record["status"] == "finished", record
        assert report["run"] == run_id
    assert steps == runs  # every run's last step checkpoint is its own row
    assert total == distinct > 0

    store = PromptStore.remote(memory_url, bundled_embedder)
    try:
        for number in range(10):  # every run's seed prompt is in the shared prompt memory
            found = store.nearest(f"seed prompt {marker(number)}", k=40)
            assert any(marker(number) in record.text for record, _ in found), number
    finally:
        store.close()
