"""The end-to-end benchmark's ``--quick`` run: a real process and model, every output checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SENTIMENT = ROOT.parent / "shared/data/instruction_induction/execute/sentiment.json"
DEV, TEST = 4, 6  # the --quick split sizes


def bench(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPILOT_")}
    return subprocess.run(
        [sys.executable, "bench/end_to_end.py", "--quick", "--out", str(tmp_path / "out"),
         "--work", str(tmp_path / "work"), *args],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.skipif(not SENTIMENT.exists(), reason="../shared/data is not beside the repo")
def test_quick_run_writes_a_consistent_report_and_resumes(tmp_path):
    # random goes through run_optimize, auto through the agent's graph: both code paths.
    run = bench("--methods", "random", "auto", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 runs, 0 already done" in run.stdout

    out = tmp_path / "out"
    runs = {}
    for path in sorted((out / "end_to_end").glob("*.json")):
        record = json.loads(path.read_text())
        runs[record["method"]] = record
    assert set(runs) == {"random", "auto"}
    seed_cost = runs["random"]["seed_scoring"]
    assert seed_cost["usage"]["calls"] == DEV + TEST  # paid once, shared by both runs
    for method, record in runs.items():
        initial, final = record["test_initial"], record["test_final"]
        assert len(initial) == len(final) == len(record["test_ids"]) == TEST
        assert record["initial_test"] == pytest.approx(sum(initial) / TEST)
        assert record["final_test"] == pytest.approx(sum(final) / TEST)
        assert record["initial_test"] == pytest.approx(seed_cost["test"])
        paired = record["test_difference"]
        assert paired["diff"] == pytest.approx(record["final_test"] - record["initial_test"])
        assert paired["interval"]["low"] <= paired["diff"] <= paired["interval"]["high"]
        # Costs are the run's own: its candidates on dev, and the chosen prompt on test
        # unless it is the seed prompt (whose answers were in the cache from the start).
        queries = record["dev_queries"]
        assert 1 <= queries <= 2
        chose_seed = record["best_prompt"] == record["seed_prompt"]
        task_calls = record["usage"]["task"]["calls"]
        assert task_calls == DEV * (queries - 1) + (0 if chose_seed else TEST), method
        if method != "auto":  # auto starts with structured search: no optimizer model
            assert record["usage"]["opt"]["calls"] > 0, method
        assert record["wall_time_s"] > 0
        scored = [entry["dev"] for entry in record["trajectory"] if not entry["reused"]]
        assert len(scored) == queries
        # the best on dev is the answer if it beats the seed clearly (the guard), else the seed
        assert record["best_dev"] in (pytest.approx(max(scored)), pytest.approx(scored[0]))
        if record["best_dev"] != pytest.approx(max(scored)):
            assert chose_seed

    report = (out / "end_to_end.md").read_text()
    for method, record in runs.items():
        diff = record["final_test"] - record["initial_test"]
        assert f"| sentiment | {method} | 1 | {record['initial_test']:.3f} |" in report
        assert f"**{diff:+.3f}**" in report
    assert "![sentiment](end_to_end_sentiment.png)" in report
    assert "SmolLM2-135M-Instruct" in report
    for plot in ("end_to_end_sentiment.png", "end_to_end_dev_curves.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A second invocation finds the finished run and does not repeat it.
    again = bench("--methods", "random", tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 runs, 1 already done" in again.stdout
    assert (
        json.loads((out / "end_to_end" / "sentiment-b2-s0-random.json").read_text())
        == (runs["random"])
    )
