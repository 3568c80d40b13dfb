"""``promptpilot diagnose`` as a user runs it: a real process on the real local model."""

from __future__ import annotations

import json

import pytest

from agent.run.records import save_finished
from agent.run.request import OptimizeRequest
from memory.run_registry import FolderRegistry
from optimizers.tasks import SplitSpec
from tests.integration.test_cli import promptpilot

pytestmark = pytest.mark.integration

SEED = "Is this review positive or negative?"
BEST = "Read the review. Reply with exactly one word, positive or negative."


@pytest.mark.slow
def test_diagnose_a_finished_run_then_again_from_the_cache(tmp_path, llm_server):
    request = OptimizeRequest(
        data="review_sentiment", prompt=SEED, split_spec=SplitSpec(train=10, dev=6, test=6)
    )
    report = {"run": "demo-run", "task": "review_sentiment", "optimizer": "gpo",
              "seed_prompt": SEED, "best_prompt": BEST}  # fmt: skip
    save_finished(FolderRegistry(tmp_path), "gpo", request.config(), report)
    model = ["--task-base-url", llm_server.base_url, "--task-model", "smollm2",
             "--task-max-tokens", "8"]  # fmt: skip

    run = promptpilot("diagnose", "demo-run", "--json", *model, home=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    classes, ablation, overfit = payload["classes"], payload["ablation"], payload["overfit"]
    assert sorted(classes["labels"]) == ["(other)", "negative", "positive"]
    for prompt in ("initial", "final"):
        confusion = classes[prompt]["confusion"]
        assert sum(sum(row.values()) for row in confusion.values()) == 6
        assert sum(classes[prompt]["shares"].values()) == pytest.approx(1.0)
    assert [s["sentence"] for s in ablation["sentences"]] == [
        "Read the review.",
        "Reply with exactly one word, positive or negative.",
    ]
    assert overfit["best"]["test"]["n"] == 6
    assert overfit["best"]["dev"]["n"] == 6
    assert payload["usage"]["calls"] == 6 * 4 + 6 * 2  # test: 2 prompts + 2 ablations; dev: 2

    again = promptpilot("diagnose", "demo-run", *model, home=tmp_path, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "prediction shares · split test · n=6" in again.stdout
    assert "sentence ablation" in again.stdout
    assert "overfitting guard" in again.stdout
    assert "task calls paid: 0" in again.stdout  # every answer came from the cache
