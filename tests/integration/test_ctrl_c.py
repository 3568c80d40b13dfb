"""Ctrl-C during `promptpilot optimize`: once stops cleanly with a report, twice aborts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.agent_process import (
    ROOT,
    clean_environment,
    command,
    environment,
    optimize_args,
)
from tests.integration.counting_proxy import CountingProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARGS = optimize_args("gpo", budget=40)


def start(proxy: CountingProxy, home: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        command(*ARGS, "--home", str(home), "--json"),
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


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc: no extra dependency)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_sigterm_stops_like_ctrl_c_and_stops_the_embedded_server(tmp_path):
    process = subprocess.Popen(
        command(*ARGS, "--home", str(tmp_path), "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_environment(), cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (servers := children(process.pid)) or not list(tmp_path.glob("runs/*/run.json")):
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "no embedded server and no run registered in 300 s"
        time.sleep(0.1)
    time.sleep(2)  # into the run

    process.terminate()  # SIGTERM, as `kill PID` sends
    stdout, stderr = process.communicate(timeout=300)

    # Ctrl-C's outcomes: a report of the best so far once the search runs (0), or
    # "interrupted" (130) while the run is still starting; never a traceback.
    assert "Traceback" not in stderr
    if process.returncode == 0:
        assert json.loads(stdout)["stopped"] in ("stop requested", "interrupted")
    else:
        assert process.returncode == 130, stderr[-2000:]
        assert "interrupted" in stderr
    time.sleep(1)
    alive = [pid for pid in servers if Path(f"/proc/{pid}").exists()]
    assert alive == [], f"the embedded server outlived its parent: {alive}"
