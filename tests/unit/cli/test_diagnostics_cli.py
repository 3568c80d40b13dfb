"""``promptpilot diagnose`` in-process: bad calls fail in one line, payloads render as tables."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent.cli.app import app
from agent.cli.diagnose import show_diagnostics
from agent.cli.output import EXIT_BAD_INPUT
from agent.run.diagnose import diagnose_labels, diagnose_run
from optimizers.budget import Budget
from tests.unit.run.test_diagnostics_agent import (  # fixtures are re-exported for this module
    data_file,
    finished,
    request_for,
    runtime,
)

__all__ = ["data_file", "finished", "runtime"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["labels"], "needs --data and --prompt"),
        (["no-such-run"], "no run 'no-such-run'"),
        (["labels", "--data", "review_sentiment", "-p", "x", "--optimizer", "auto"], "not auto"),
        (["labels", "--data", "review_sentiment", "-p", "x", "--only", "classes"], "apply to a"),
        (["labels", "--data", "review_sentiment", "-p", "x", "--rate", "2"], "rate must be"),
        (["some-run", "--data", "review_sentiment"], "apply to `labels`"),
        (["some-run", "--only", "classes,shares"], "unknown diagnostic 'shares'"),
        (["some-run", "--split", "train"], "split must be dev or test"),
    ],
)
def test_bad_calls_fail_before_any_model_in_one_line(args, message, tmp_path):
    result = CliRunner().invoke(app, ["diagnose", *args, "--home", str(tmp_path)])
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def render(payload) -> str:
    buffer = io.StringIO()
    show_diagnostics(payload, Console(file=buffer, width=160))
    return buffer.getvalue()


async def test_a_run_payload_renders_every_table(tmp_path, runtime, finished):
    payload = (await diagnose_run(finished, runtime, home=tmp_path)).to_dict()
    text = render(payload)
    for title in (
        "prediction shares · split test · n=20",
        "confusion · initial prompt",
        "confusion · final prompt",
        "sentence ablation · split test",
        "overfitting guard",
    ):
        assert title in text
    assert "Classify the sentiment of the item." in text
    assert payload["classes"]["finding"].split(":")[0] in text
    assert "task calls paid: 100" in text


@pytest.mark.usefixtures("one_torch_thread")
async def test_a_rerun_payload_renders_both_arms(tmp_path, runtime, data_file, bundled_embedder):
    request = request_for(data_file, optimizer="ape", budget=Budget(max_queries=3))
    report = await diagnose_labels(request, runtime, home=tmp_path, embedder=bundled_embedder)
    text = render(report.to_dict())
    assert "label corruption · ape · 10/10 train labels changed" in text
    for arm in ("clean", "corrupted", "seed"):
        assert f"│ {arm}" in text
    assert "corrupted − clean on test" in text
