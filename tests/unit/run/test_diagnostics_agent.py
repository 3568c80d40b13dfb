"""The agent's diagnostics wiring: a run's record in, reports out, fake models only."""

from __future__ import annotations

import json

import pytest

from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import ModelSettings
from agent.run.diagnose import (
    check_run_diagnostics,
    diagnose_labels,
    diagnose_proposals,
    diagnose_run,
)
from agent.run.records import save_finished
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from memory.response_cache import ResponseCache
from memory.run_registry import FolderRegistry
from optimizers.budget import Budget
from optimizers.diagnostics.class_shares import OTHER
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.tasks import SplitSpec
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import WORDS, proposer_model, sentiment_task_model

SEED = "Answer the question."
BEST = "Be brief. Classify the sentiment of the item."


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "items.jsonl"
    rows = []
    for i in range(40):
        label = "positive" if i % 2 == 0 else "negative"
        word = WORDS[label][i % len(WORDS[label])]
        rows.append({"input": f"item {i}: it was {word}", "output": label})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def runtime(tmp_path):
    fake = ModelSettings(base_url="fake://", model="rule")
    runtime = ModelRuntime(RuntimeSettings(task=fake, optimizer=fake))
    cache = ResponseCache(tmp_path / "cache.sqlite")
    runtime.task = ChatCaller(fake_backend(sentiment_task_model), cache)
    runtime.optimizer = ChatCaller(fake_backend(proposer_model, role="proposer"), cache)
    yield runtime
    cache.close()


def request_for(data_file, **options) -> OptimizeRequest:
    return OptimizeRequest(
        data=str(data_file), prompt=SEED, split_spec=SplitSpec(train=10, dev=10, test=20),
        **options,
    )  # fmt: skip


@pytest.fixture
def finished(tmp_path, data_file):
    """A finished run whose best prompt is known: always right ("sentiment")."""
    request = request_for(data_file, optimizer="gpo")
    report = {"run": "r1", "task": "items", "optimizer": "gpo", "seed_prompt": SEED,
              "best_prompt": BEST}  # fmt: skip
    save_finished(FolderRegistry(tmp_path), "gpo", request.config(), report)
    return "r1"


async def test_a_finished_run_gets_all_three_diagnostics(tmp_path, runtime, finished):
    result = await diagnose_run(finished, runtime, home=tmp_path)
    assert (result.seed_prompt, result.best_prompt, result.split) == (SEED, BEST, "test")
    classes, ablation, overfit = result.classes, result.ablation, result.overfit

    positives = classes.true_shares["positive"]
    assert classes.initial.shares == {"positive": 1.0, "negative": 0.0, OTHER: 0.0}
    assert classes.final.accuracy == 1.0
    assert classes.final.shares["positive"] == positives
    assert not classes.prevalence_hacking

    brief, key = ablation.effects
    assert (brief.sentence, key.sentence) == ("Be brief.", "Classify the sentiment of the item.")
    assert brief.contribution.diff == 0.0
    assert key.contribution.diff == pytest.approx(1 - positives)  # "Be brief." alone: all positive
    assert ablation.carrying == [key]

    assert overfit.best_dev.mean == overfit.best_test.mean == 1.0
    assert overfit.gap.diff == 0.0
    assert overfit.copies == ()
    assert result.skipped == {}
    assert result.usage.calls == 20 * 4 + 10 * 2  # test: seed, best, best minus each sentence
    json.dumps(result.to_dict())  # JSON-ready throughout

    again = await diagnose_run(finished, runtime, home=tmp_path, only=["classes"], split="dev")
    assert again.usage.calls == 0  # every answer is in the response cache
    assert again.ablation is None
    assert again.overfit is None
    assert again.classes.split == "dev"


async def test_diagnostics_that_do_not_apply_are_skipped_with_the_reason(tmp_path, runtime):
    path = tmp_path / "words.jsonl"
    rows = [{"input": f"item {i}: word", "output": f"w{i}"} for i in range(60)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    request = OptimizeRequest(data=str(path), prompt=SEED)
    rambling = " ".join(f"Rule {i}." for i in range(13))
    report = {"run": "w", "task": "words", "seed_prompt": SEED, "best_prompt": rambling}
    save_finished(FolderRegistry(tmp_path), "gpo", request.config(), report)
    result = await diagnose_run("w", runtime, home=tmp_path, only=["classes", "ablation"])
    assert result.classes is None
    assert result.ablation is None
    assert "at most 20 classes" in result.skipped["classes"]  # open-ended targets
    assert "the prompt has 13 sentences" in result.skipped["ablation"]


@pytest.mark.usefixtures("one_torch_thread")
async def test_a_real_optimize_report_can_be_diagnosed(
    tmp_path, runtime, data_file, bundled_embedder
):
    request = request_for(data_file, optimizer="random", budget=Budget(max_queries=3))
    report = await run_optimize(request, runtime, home=tmp_path, embedder=bundled_embedder)
    payload = report.to_dict()
    save_finished(FolderRegistry(tmp_path), "random", request.config(), payload)
    result = await diagnose_run(payload["run"], runtime, home=tmp_path, only=["overfit"])
    assert result.best_prompt == payload["best_prompt"]
    assert result.overfit.best_test.mean == payload["scores"]["best"]["test"]["mean"]
    assert result.usage.calls == 0  # the run paid for all of it


async def test_an_unfinished_run_and_bad_options_are_clear_errors(tmp_path, runtime, data_file):
    FolderRegistry(tmp_path).record(
        "busy", status="running", request=request_for(data_file).config()
    )
    with pytest.raises(ValueError, match="no report yet \\(status: running\\)"):
        await diagnose_run("busy", runtime, home=tmp_path)
    with pytest.raises(ValueError, match="no run 'nope'"):
        await diagnose_run("nope", runtime, home=tmp_path)
    with pytest.raises(ValueError, match="unknown diagnostic 'shares'"):
        check_run_diagnostics(["classes", "shares"], "test")
    with pytest.raises(ValueError, match="split must be dev or test"):
        check_run_diagnostics(["classes"], "train")
    assert check_run_diagnostics([" overfit", "classes", "overfit"], "dev") == (
        "overfit",
        "classes",
    )


@pytest.mark.usefixtures("one_torch_thread")
async def test_labels_and_proposals_rerun_the_requested_optimizer(
    tmp_path, runtime, data_file, bundled_embedder
):
    request = request_for(data_file, optimizer="ape", budget=Budget(max_queries=3))
    labels = await diagnose_labels(
        request, runtime, home=tmp_path, embedder=bundled_embedder, corruption_seed=1
    )
    assert labels.optimizer == "ape"
    assert labels.changed == labels.n_train == 10
    assert labels.clean.arm.outcome.queries <= 3
    assert labels.corrupted.arm.outcome.queries <= 3
    assert labels.clean.seed_test.n == 20
    proposals = await diagnose_proposals(request, runtime, home=tmp_path, embedder=bundled_embedder)
    assert proposals.wanted == len(proposals.optimizer.arm.proposed)
    assert proposals.paraphrases.arm.outcome.queries == proposals.kept + 1
    for report in (labels, proposals):
        assert json.loads(json.dumps(report.to_dict()))["finding"] == report.finding


async def test_auto_cannot_be_rerun(tmp_path, runtime, data_file):
    with pytest.raises(ValueError, match="not auto"):
        await diagnose_labels(request_for(data_file, optimizer="auto"), runtime, home=tmp_path)
