"""A run killed with SIGKILL mid-way resumes to the same result, paying for nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from optimizers.evaluation.concurrency import LimitPolicy
from tests.integration.agent_process import ROOT, command, environment, optimize_args

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARGS = optimize_args("auto", budget=10)


def essentials(report: dict) -> dict:
    return {
        "best_prompt": report["best_prompt"],
        "scores": report["scores"],
        "dev_queries": report["dev_queries"],
        "trajectory": [(e["source"], e["prompt"], e["dev"]) for e in report["trajectory"]],
    }


def test_sigkill_then_resume_gives_the_same_result_without_repeated_calls(proxy, tmp_path):
    env = environment(proxy)

    reference = subprocess.run(
        command(*ARGS, "--home", str(tmp_path / "ref"), "--run-id", "ref", "--json"),
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = json.loads(reference.stdout)
    # The agent, end to end on the real model: within budget, reported on test.
    assert expected["optimizer"] == "auto"
    assert expected["dev_queries"] <= 10
    assert expected["scores"]["best"]["test"]["n"] == 8
    assert expected["test_difference"]["n"] == 8
    reference_calls = proxy.count()
    assert reference_calls > 20

    # The same run, killed with SIGKILL once about half of its calls are done.
    before = proxy.count()
    victim = subprocess.Popen(
        command(*ARGS, "--home", str(tmp_path / "k"), "--run-id", "k", "--json"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while proxy.count() - before < reference_calls // 2 and time.monotonic() < deadline:
        assert victim.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    killed_at = time.monotonic()
    in_flight = sum(1 for c in proxy.calls[before:] if c.finished is None or c.finished > killed_at)
    record = json.loads((tmp_path / "k" / "runs" / "k" / "run.json").read_text())
    assert record["status"] == "running"  # killed: it never got to write anything else

    resumed = subprocess.run(
        command("runs", "resume", "k", "--home", str(tmp_path / "k"), "--json"),
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)

    assert essentials(result) == essentials(expected)
    killed_run_calls = proxy.count() - before
    # Nothing completed before the kill is paid again; only requests cut off in flight
    # (at most the adaptive concurrency limit's ceiling) can be sent a second time.
    assert killed_run_calls - reference_calls <= in_flight <= LimitPolicy.auto().ceiling
