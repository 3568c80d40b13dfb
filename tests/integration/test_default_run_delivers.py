"""The product's one job, on its default setup: a weak prompt comes back measurably better.

The default run (``auto``, the default budget, no flag) on the embedded SmolLM2-135M,
from "Answer the question." on the built-in review_sentiment task. The seed scores 0
here (the model answers in sentences); the structured search needs no writing model.
"""

from __future__ import annotations

import pytest

from agent.graph.pilot import run_pilot
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import DEFAULT_OPTIMIZER_SETTINGS, DEFAULT_TASK_SETTINGS
from agent.run.request import OptimizeRequest
from optimizers.budget import DEFAULT_MAX_CALLS, Budget

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_default_run_beats_the_weak_seed_on_test(llm_server, tmp_path, bundled_embedder):
    settings = RuntimeSettings(
        task=DEFAULT_TASK_SETTINGS.with_base_url(llm_server.base_url),
        optimizer=DEFAULT_OPTIMIZER_SETTINGS.with_base_url(llm_server.base_url),
        cache_path=tmp_path / "cache.sqlite",
    )
    request = OptimizeRequest(
        data="review_sentiment", prompt="Answer the question.", optimizer="auto"
    )
    assert request.budget == Budget.default()  # the default run, as `promptpilot optimize` makes it
    with ModelRuntime(settings) as runtime:
        report = await run_pilot(
            request, runtime, home=tmp_path / "home", embedder=bundled_embedder
        )

    assert report is not None
    initial, best = report["scores"]["initial"]["test"], report["scores"]["best"]["test"]
    assert best["mean"] > initial["mean"], report["best_prompt"]
    assert report["test_difference"]["interval"]["low"] > 0  # paired, on held-out test
    assert report["guard"]["passed"]
    assert report["changed_parts"]  # the answer differs from the seed in named parts
    assert report["search_calls"] <= DEFAULT_MAX_CALLS
    assert report["best_rendered"].count("{input}") == 1
