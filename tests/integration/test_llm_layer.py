"""The LLM layer against the real embedded llama.cpp server."""

from __future__ import annotations

import httpx
import pytest

from agent.llm.local_server import free_port
from agent.llm.models import make_chat_model
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import ModelSettings
from optimizers.evaluation.chat_calls import EndpointError
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.tasks.example import Example

pytestmark = pytest.mark.integration

LONG_ASK = "Write a very long story about a dragon who learns to cook. Use many chapters."


def test_capped_output_really_stops(llm_server):
    model = make_chat_model(ModelSettings(base_url=llm_server.base_url, max_tokens=5))
    reply = model.invoke(LONG_ASK)
    assert 1 <= reply.usage_metadata["output_tokens"] <= 5
    tokens = httpx.post(
        f"http://127.0.0.1:{llm_server.port}/extras/tokenize",
        json={"input": str(reply.text), "model": "smollm2"},
        timeout=10,
    ).json()["tokens"]
    assert len(tokens) <= 6  # the tokenizer may add a begin-of-text token


def test_uncapped_default_would_be_long(llm_server):
    """The cap matters: with a generous cap the same request runs far past 5 tokens."""
    model = make_chat_model(ModelSettings(base_url=llm_server.base_url, max_tokens=40))
    assert model.invoke(LONG_ASK).usage_metadata["output_tokens"] > 5


def counting_client() -> tuple[httpx.AsyncClient, list[str]]:
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    return httpx.AsyncClient(event_hooks={"request": [record]}), seen


EXAMPLES = tuple(
    Example(id=str(i), input=text, targets=(label,))
    for i, (text, label) in enumerate(
        [
            ("I loved every minute of it.", "positive"),
            ("Terrible service, never again.", "negative"),
            ("The best purchase I made this year.", "positive"),
            ("It broke after two days.", "negative"),
            ("Friendly staff and great coffee.", "positive"),
            ("Boring and far too long.", "negative"),
        ]
    )
)
PROMPT = "Classify the sentiment of the review. Answer with one word: positive or negative."


async def evaluate_once(settings: RuntimeSettings) -> tuple[list[str], list[str], object]:
    client, seen = counting_client()
    async with client:
        with ModelRuntime(settings, roles=("task",), http_async_client=client) as runtime:
            evaluator = Evaluator(runtime.task, metric=get_metric("exact"))
            result = await evaluator.evaluate(PROMPT, EXAMPLES, split="dev")
    return seen, [r.output for r in result.examples], result


async def test_cache_hits_cost_no_http_call_across_restarts(llm_server, tmp_path):
    settings = RuntimeSettings(
        task=ModelSettings(base_url=llm_server.base_url, max_tokens=8),
        cache_path=tmp_path / "cache.sqlite",
    )
    first_calls, first_outputs, first = await evaluate_once(settings)
    assert first_calls.count("/v1/chat/completions") == len(EXAMPLES)
    assert first.usage.calls == len(EXAMPLES)
    assert first.usage.completion_tokens > 0

    # A new runtime on the same cache file: a restart of the program.
    second_calls, second_outputs, second = await evaluate_once(settings)
    assert second_calls.count("/v1/chat/completions") == 0
    assert second_outputs == first_outputs
    assert (second.usage.calls, second.usage.cache_hits) == (0, len(EXAMPLES))
    assert second.mean == first.mean


def test_unreachable_endpoint_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = RuntimeSettings(task=ModelSettings(base_url=url, model="any"))
    with (
        pytest.raises(EndpointError, match=url.replace(".", r"\.")),
        ModelRuntime(settings, roles=("task",)),
    ):
        pass


def test_embedded_runtime_uses_a_port_independent_cache_identity(tmp_path):
    """The embedded server gets a new port every start; cached answers must still hit."""
    settings = RuntimeSettings(cache_path=tmp_path / "cache.sqlite")
    with ModelRuntime(settings, roles=("task",)) as runtime:
        identity = dict(runtime.task.backend.identity)
        assert runtime.server is not None
        assert runtime.server.base_url.startswith("http://127.0.0.1:")
    assert identity["base_url"] == "embedded:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert runtime.server is None  # stopped on exit


def test_a_caller_survives_several_event_loops(llm_server):
    """CLI steps and UI workers each run their own loop; no call may fail for that."""
    import asyncio

    from langchain_core.messages import HumanMessage

    from agent.llm.models import make_backend
    from optimizers.evaluation.chat_calls import ChatCaller

    caller = ChatCaller(make_backend(ModelSettings(base_url=llm_server.base_url, max_tokens=3)))

    async def burst(tag: str) -> list:
        messages = [[HumanMessage(content=f"{tag} {i}")] for i in range(6)]
        return await asyncio.gather(*(caller.complete(m) for m in messages))

    for tag in ("first", "second", "third"):
        assert len(asyncio.run(burst(tag))) == 6
    assert caller.usage.failures == 0
    assert caller.usage.calls == 18
