"""Load: 10 concurrent `promptpilot optimize` processes on one home and one llama.cpp server.

Ten runs with different tasks, seeds, optimizers and seed prompts (each carrying a
marker of its own, ``LX00`` … ``LX09``) start at once as separate processes sharing
one home: one response cache, one checkpoint file, one Chroma prompt memory. The
embedded SmolLM2 is served once, by llama.cpp on 127.0.0.1, behind a counting proxy
(every paid call is seen at the HTTP level). Afterwards: every run finished with a
report of its own, every SQLite file passes ``PRAGMA integrity_check``, the prompt
memory holds every run's scored prompts and finds them by vector, the cache holds
each paid answer once, and re-running a run in a fresh run id pays nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.llm.local_server import LocalLLMServer
from memory.embeddings import SentenceTransformerEmbedder
from memory.prompt_store import PromptStore
from optimizers.gpo.trajectory import TRAJECTORY_SUFFIX
from tests.integration.agent_process import environment as proxy_environment
from tests.integration.counting_proxy import CountingProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SPLITS = ("--train", "4", "--dev", "2", "--test", "4")  # tiny: ten processes at once
BUDGET = 3  # dev queries: the seed and two candidates
TASK_MAX_TOKENS = 8  # every answer of these tasks is a word or a number
OPTIMIZER_MAX_TOKENS = 60
TIMEOUT_S = 600.0  # per answer: ten processes queue on one llama.cpp server
PROCESS_TIMEOUT_S = 1500
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class LoadRun:
    """One of the concurrent runs: its own task, seed, optimizer and marked seed prompt."""

    marker: str
    task: str
    prompt: str
    optimizer: str
    seed: int

    def args(self, home: Path) -> list[str]:
        """``promptpilot optimize`` arguments (the run id is left to the program)."""
        return [
            "optimize", self.task, "-p", self.prompt, "--optimizer", self.optimizer,
            "--budget", str(BUDGET), *SPLITS, "--seed", str(self.seed),
            "--task-max-tokens", str(TASK_MAX_TOKENS), "--home", str(home), "--json",
        ]  # fmt: skip


_SEEDS = {
    "review_sentiment": "Is this review positive or negative?",
    "opposite_word": "Give the opposite of the word.",
    "country_capital": "Name the capital city of the country.",
    "word_count": "How many words are in the text?",
}
_OPTIMIZERS = ("random", "gpo", "ape", "textgrad", "random")
RUNS = tuple(
    LoadRun(
        marker=f"LX{i:02d}",
        task=task,
        prompt=f"{_SEEDS[task]} Reference LX{i:02d}.",
        optimizer=_OPTIMIZERS[i % len(_OPTIMIZERS)],
        seed=i,
    )
    for i, task in enumerate((list(_SEEDS) * 3)[:10])
)


@pytest.fixture(scope="module")
def proxy() -> Iterator[CountingProxy]:
    """One embedded llama.cpp server for every run, behind a counting proxy."""
    with LocalLLMServer() as server:
        counting = CountingProxy(f"http://127.0.0.1:{server.port}").start()
        yield counting
        counting.stop()


def environment(proxy: CountingProxy) -> dict[str, str]:
    """Both roles on the proxy (SmolLM2), long timeouts: the server answers one at a time."""
    return proxy_environment(proxy, timeout_s=TIMEOUT_S, optimizer_max_tokens=OPTIMIZER_MAX_TOKENS)


@dataclass
class Finished:
    """A finished process: exit code, output, and how long it took."""

    run: LoadRun
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def launch(run: LoadRun, home: Path, env: dict[str, str], *extra: str) -> Finished:
    """Run ``promptpilot optimize`` for ``run`` to its end, as its own process."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "agent", *run.args(home), *extra],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=PROCESS_TIMEOUT_S,
    )  # fmt: skip
    return Finished(run, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def sqlite_files(home: Path) -> list[Path]:
    """Every SQLite database under ``home``, found by its header (not its name)."""
    found = []
    for path in sorted(home.rglob("*")):
        if path.is_file() and path.stat().st_size >= len(SQLITE_MAGIC):
            with path.open("rb") as handle:
                if handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
                    found.append(path)
    return found


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of one database, read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def essentials(report: dict[str, Any]) -> dict[str, Any]:
    """What a re-run of the same request must reproduce."""
    return {
        "best_prompt": report["best_prompt"],
        "scores": report["scores"],
        "dev_queries": report["dev_queries"],
        "trajectory": [(e["source"], e["prompt"], e["dev"]) for e in report["trajectory"]],
    }


def load_average() -> str:
    """The 1/5/15-minute load averages, for the printed figures."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@pytest.mark.timeout(2400)  # an upper bound for a busy shared machine
def test_ten_concurrent_headless_runs_share_one_home_and_stay_apart(
    proxy: CountingProxy, tmp_path: Path, bundled_embedder: SentenceTransformerEmbedder
) -> None:
    home = tmp_path / "home"
    env = environment(proxy)
    print(f"\nload before: {load_average()} ({os.cpu_count()} cores)")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        finished = list(pool.map(lambda run: launch(run, home, env), RUNS))
    total = time.monotonic() - started
    calls = list(proxy.calls)

    # Every process ends well, with a report.
    for done in finished:
        assert done.returncode == 0, f"{done.run}: exit {done.returncode}\n{done.stderr[-3000:]}"
        for bad in ("Traceback", "database is locked", "error:"):
            assert bad not in done.stderr, f"{done.run}: {bad!r} in stderr\n{done.stderr[-3000:]}"
    reports = [done.report for done in finished]

    # Each report is its own run's: distinct ids, its own task, prompt and optimizer, no
    # other run's marker or id anywhere in it, and the run directory holds the same report.
    ids = [report["run"] for report in reports]
    assert len(set(ids)) == len(RUNS), ids
    for done, report in zip(finished, reports, strict=True):
        run = done.run
        assert report["task"] == run.task
        assert report["seed_prompt"] == run.prompt
        assert report["optimizer"] == run.optimizer
        assert report["trajectory"][0]["prompt"] == run.prompt
        assert 1 <= report["dev_queries"] <= BUDGET
        assert report["scores"]["best"]["test"]["n"] == int(SPLITS[SPLITS.index("--test") + 1])
        text = json.dumps(report, ensure_ascii=False)
        for other in RUNS:
            if other is not run:
                assert other.marker not in text, f"{run.marker}'s report mentions {other.marker}"
        for other_id in ids:
            if other_id != report["run"]:
                assert other_id not in text, f"{report['run']}'s report mentions {other_id}"
        saved = json.loads((home / "runs" / report["run"] / "report.json").read_text())
        assert essentials(saved) == essentials(report)
        record = json.loads((home / "runs" / report["run"] / "run.json").read_text())
        assert record["status"] == "finished", record
    assert sorted(p.name for p in (home / "runs").iterdir()) == sorted(ids)

    # No SQLite file is damaged: cache, checkpoints, Chroma's own database.
    databases = sqlite_files(home)
    names = {path.relative_to(home).as_posix() for path in databases}
    assert {"cache.sqlite", "checkpoints.sqlite", "prompts/chroma.sqlite3"} <= names, names
    for path in databases:
        assert integrity(path) == "ok", path

    # The cache holds each paid answer exactly once, and no call was paid twice.
    bodies = Counter(call.body_sha for call in calls)
    repeated = {sha: n for sha, n in bodies.items() if n > 1}
    with sqlite3.connect(home / "cache.sqlite") as conn:
        cached = conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert not repeated, f"{len(repeated)} request bodies paid more than once"
    assert cached == len(bodies), (cached, len(bodies))
    paid = sum(r["usage"][role]["calls"] for r in reports for role in ("task", "optimizer"))
    assert paid == len(calls), (paid, len(calls))

    # The prompt memory opens and holds every run's scored prompts, found by vector too.
    store = PromptStore.embedded(home / "prompts", bundled_embedder)
    try:
        memory_records = 0
        for done, report in zip(finished, reports, strict=True):
            records = store.trajectory(report["run"])
            memory_records += len(records)
            by_id = {record.id: record for record in records}
            for entry in report["trajectory"]:
                record = by_id.get(entry["memory_id"])
                assert record is not None, (report["run"], entry["prompt"])
                assert record.text == entry["prompt"]
                assert record.task == report["task"]
                if entry["dev"] is not None:
                    assert record.dev_score == pytest.approx(entry["dev"]), entry
            best = store.get(report["best_memory_id"])  # its parts (layout) make the id
            assert best is not None
            assert best.text == report["best_prompt"]
            assert best.test_score == pytest.approx(report["scores"]["best"]["test"]["mean"])
            hit, similarity = store.nearest(report["best_prompt"], k=1, run=report["run"])[0]
            assert hit.text == report["best_prompt"], hit
            assert similarity > 0.999, similarity
            for record in records:
                for other in RUNS:
                    if other is not done.run:
                        assert other.marker not in record.text, (report["run"], record.text)
        assert store.count() == memory_records, "records of no run, or of a run twice"
        gpo_runs = [r["run"] for r in reports if r["optimizer"] == "gpo"]
        gpo = store.sibling(store.collection_name + TRAJECTORY_SUFFIX)
        gpo_count = gpo.count()
    finally:
        store.close()

    # Re-running the first run in a fresh run id is answered entirely from the cache.
    before = proxy.count()
    again = launch(RUNS[0], home, env, "--run-id", "rerun-of-0")
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = again.report
    assert rerun["run"] == "rerun-of-0"
    assert proxy.count() - before == 0, "the re-run paid for answers already in the cache"
    assert rerun["usage"]["task"]["calls"] == rerun["usage"]["optimizer"]["calls"] == 0
    assert essentials(rerun) == essentials(reports[0])

    print(f"load after: {load_average()}")
    print(f"{len(RUNS)} concurrent runs in {total:.1f} s; {len(calls)} paid calls "
          f"({len(bodies)} distinct, {len(repeated)} repeated); {cached} cache rows")  # fmt: skip
    for done, report in zip(finished, reports, strict=True):
        usage = report["usage"]
        print(f"  {report['run']:<48} {done.run.optimizer:<8} {done.seconds:6.1f} s  "
              f"task {usage['task']['calls']:>3} + optimizer {usage['optimizer']['calls']:>3} "
              f"calls, {usage['task']['cache_hits']} cache hits, best test "
              f"{report['scores']['best']['test']['mean']:.2f}")  # fmt: skip
    print(
        f"  re-run of {ids[0]} in {again.seconds:.1f} s: 0 paid calls, "
        f"{rerun['usage']['task']['cache_hits']} cache hits"
    )
    print(
        f"SQLite files ok: {sorted(names)}; prompt memory {memory_records} records, "
        f"GPO trajectory {gpo_count} records ({len(gpo_runs)} GPO runs)"
    )
