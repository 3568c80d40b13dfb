"""Every optimizer, end to end, on the real embedded model with a small budget."""

from __future__ import annotations

import json

import httpx
import pytest

from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import DEFAULT_OPTIMIZER_SETTINGS, DEFAULT_TASK_SETTINGS
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from optimizers.budget import Budget
from optimizers.registry import NAMES
from optimizers.tasks import SplitSpec, load_builtin_task, split_task

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPLITS = SplitSpec(train=12, dev=6, test=8, seed=3)


def recording_client() -> tuple[httpx.AsyncClient, list[str]]:
    """An HTTP client that keeps the body of every chat request, in order."""
    bodies: list[str] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            bodies.append(request.content.decode("utf-8"))

    return httpx.AsyncClient(event_hooks={"request": [record]}), bodies


@pytest.mark.parametrize("optimizer", list(NAMES))
async def test_optimizer_runs_and_never_peeks_at_test(
    optimizer, llm_server, tmp_path, bundled_embedder
):
    settings = RuntimeSettings(
        task=DEFAULT_TASK_SETTINGS.with_base_url(llm_server.base_url),
        optimizer=DEFAULT_OPTIMIZER_SETTINGS.with_base_url(llm_server.base_url),
        cache_path=None,  # every call goes over HTTP, so the count below sees everything
    )
    request = OptimizeRequest(
        data="review_sentiment",
        prompt="Is this review positive or negative?",
        optimizer=optimizer,
        budget=Budget(max_queries=4, max_calls=150),
        split_spec=SPLITS,
        seed=1,
    )
    client, bodies = recording_client()
    async with client:
        with ModelRuntime(settings, http_async_client=client) as runtime:
            report = await run_optimize(request, runtime, home=tmp_path, embedder=bundled_embedder)

    payload = report.to_dict()
    json.dumps(payload)  # the report is JSON-ready
    assert payload["optimizer"] == optimizer
    assert payload["dev_queries"] <= 4
    assert payload["scores"]["initial"]["dev"]["split"] == "dev"
    assert payload["scores"]["best"]["test"]["split"] == "test"
    assert payload["scores"]["best"]["dev"]["mean"] >= payload["scores"]["initial"]["dev"]["mean"]
    assert payload["trajectory"][0]["source"] == "seed"
    assert payload["config"]["splits"] == {"train": 12, "dev": 6, "test": 8}
    assert "api_key" not in json.dumps(payload["config"]["task_model"]).replace("api_key_set", "")

    # Count, at the HTTP level, the requests that carried a test input: all of them must be
    # the final report's (seed and best on test), which come last.
    test_inputs = [e.input for e in split_task(load_builtin_task("review_sentiment"), SPLITS).test]
    encoded = [json.dumps(text)[1:-1] for text in test_inputs]
    carrying = [i for i, body in enumerate(bodies) if any(text in body for text in encoded)]
    n_test = len(test_inputs)
    final_report = 2 * n_test  # no cache here: seed and best are each scored on test
    assert len(carrying) == final_report
    assert carrying == list(range(len(bodies) - final_report, len(bodies)))
