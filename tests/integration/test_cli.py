"""The ``promptpilot`` command as a user runs it: a real process, the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.llm.local_server import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHARED_SENTIMENT = ROOT.parent / "shared/data/instruction_induction/execute/sentiment.json"
WEAK = "Is this review positive or negative?"
STRONG = "Classify the sentiment of the review. Answer with one word: positive or negative."


def promptpilot(
    *args: str, home: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPILOT_")}
    home_args = ["--home", str(home)] if home is not None else []
    return subprocess.run(
        [sys.executable, "-m", "agent", *args, *home_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_SENTIMENT.exists(), reason="../shared/data is not beside the repo")
def test_eval_shows_a_clear_paired_difference(tmp_path):
    out = tmp_path / "report.json"
    run = promptpilot(
        "eval", str(SHARED_SENTIMENT), "-p", WEAK, "-p", STRONG, "--json", "--out", str(out),
        home=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert json.loads(out.read_text()) == report
    weak, strong = report["results"]
    assert weak["n"] == strong["n"] == 100
    assert weak["split"] == "all"
    (comparison,) = report["comparisons_to_first"]
    assert comparison["diff"] > 0.2
    assert comparison["interval"]["low"] > 0  # the whole 95% interval is a gain
    assert comparison["p_value"] < 0.01
    assert strong["usage"]["calls"] == 100

    # The same command again is answered from the cache: no call paid.
    again = promptpilot(
        "eval", str(SHARED_SENTIMENT), "-p", WEAK, "-p", STRONG, "--json", home=tmp_path
    )
    assert again.returncode == 0, again.stderr
    repeat = json.loads(again.stdout)
    assert [r["usage"]["calls"] for r in repeat["results"]] == [0, 0]
    assert [r["mean"] for r in repeat["results"]] == [weak["mean"], strong["mean"]]


def test_eval_table_on_a_limit_and_split(tmp_path):
    run = promptpilot(
        "eval", "review_sentiment", "-p", STRONG, "--split", "dev", "--limit", "5", home=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert "review_sentiment · split dev · n=5" in run.stdout


def test_bad_file_gives_one_clear_line_and_no_server(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nwhat is 2+2,\n", encoding="utf-8")
    run = promptpilot("eval", str(bad), "-p", "x", home=tmp_path, timeout=60)
    assert run.returncode == 2
    assert "bad.csv" in run.stderr
    assert "line 2" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_unreachable_endpoint_is_named(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    run = promptpilot(
        "eval", "review_sentiment", "-p", "x", "--task-base-url", url, "--task-model", "m",
        home=tmp_path, timeout=60,
    )  # fmt: skip
    assert run.returncode == 3
    assert url in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_help_documents_every_command():
    run = promptpilot("--help", timeout=60)
    for command in ("eval", "demo", "serve-llm", "metrics"):
        assert command in run.stdout
