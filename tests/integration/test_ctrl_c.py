"""Ctrl-C during `promptpilot optimize`: once stops cleanly with a report, twice aborts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.counting_proxy import CountingProxy
from tests.integration.test_resume_after_kill import environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    "optimize", "review_sentiment", "-p", "Is this review positive or negative?",
    "--optimizer", "gpo", "--budget", "40", "--train", "10", "--dev", "6", "--test", "8",
]  # fmt: skip


@pytest.fixture
def proxy(llm_server):
    proxy = CountingProxy(f"http://127.0.0.1:{llm_server.port}").start()
    yield proxy
    proxy.stop()


def start(proxy: CountingProxy, home: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", *ARGS, "--home", str(home), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment(proxy), cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while proxy.count() < 12 and time.monotonic() < deadline:  # the seed is scored: searching
        assert process.poll() is None, process.stderr.read()[-2000:]
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_still_writes_the_best_so_far(proxy, tmp_path, presses):
    process = start(proxy, tmp_path)
    for _ in range(presses):
        os.kill(process.pid, signal.SIGINT)
        time.sleep(0.3)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    report = json.loads(stdout)
    assert report["dev_queries"] < 40
    assert report["best_prompt"]
    (saved,) = (tmp_path / "runs").glob("*/report.json")
    assert json.loads(saved.read_text())["best_prompt"] == report["best_prompt"]
    if presses == 1:  # stop soon: the search ends between evaluations and test is reported
        assert report["stopped"] == "stop requested"
        assert report["scores"]["best"]["test"]["n"] == 8
    else:  # stop now: no test report, but nothing found is lost
        assert report["stopped"] == "interrupted"
        assert report["scores"]["best"]["test"] is None
